"""Shared fixtures: named users per role, and a real Celery worker on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from annotation.models import Membership, Project
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """PBKDF2's million rounds cost a few tenths of a second per user made; tests need no strength.
    PBKDF2 stays listed so hashes made outside this fixture still verify."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Throttle and login-attempt counters live in the cache; each test starts with none."""
    cache.clear()


@pytest.fixture
def project(db: None) -> Project:
    return ProjectFactory(name="Project A", slug="project-a")


@pytest.fixture
def alice(project: Project):
    """Admin of project A."""
    user = UserFactory(username="alice")
    MembershipFactory(project=project, user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def bob(project: Project):
    """Annotator of project A."""
    user = UserFactory(username="bob")
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return user


@pytest.fixture
def charlie(project: Project):
    """Annotator of project A."""
    user = UserFactory(username="charlie")
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return user


@pytest.fixture
def mallory(db: None):
    """Annotator of another project only."""
    user = UserFactory(username="mallory")
    MembershipFactory(project=ProjectFactory(name="Project B", slug="project-b"), user=user)
    return user


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: run the suite with scripts/test (DATABASE_URL)")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker, tmp_path_factory
) -> Iterator[subprocess.Popen]:
    """A real Celery worker (queues default and gpu) on Redis, using the test database.

    Tests that use it must commit their rows (transactional_db or live_server), since the worker
    reads them from its own connection.
    """
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("needs Redis: run the suite with scripts/test (CELERY_BROKER_URL)")
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": broker}
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "rankwise", "purge", "-f", "-Q", "default,gpu"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "rankwise",
                "worker",
                "-Q",
                "default,gpu",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"Celery worker did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
