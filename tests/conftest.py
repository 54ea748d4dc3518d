"""Shared fixtures: named users per role, a real Celery worker on the test database, and headless Chromium."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache

from annotation.models import Membership, Project
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.waiting import DEADLINE_S, POLL_S

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@pytest.fixture(autouse=True)
def engine_runs_marked_training(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts the engine (training, generation, scoring) in its process must be marked
    `training`, so that -m "not training" really leaves the slow ones out."""
    if request.node.get_closest_marker("training"):
        return

    def refuse(**kwargs: object) -> None:
        pytest.fail("this test starts the engine: mark it @pytest.mark.training")

    monkeypatch.setattr("training.jobs.processes.engine_start", refuse)


class SmallDisk:
    """A 1 MiB tmpfs mounted for one test: fill() makes it a full disk, read_only() a read-only one.

    As root (CI, this machine) chmod cannot make a directory unwritable and RLIMIT_FSIZE only limits
    one process; a mount behaves the same for every process and user.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def fill(self) -> None:
        with open(self.path / ".filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a full or read-only disk) needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {mounted.stderr.strip()}"
        )
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """`with run_on_commit(): ...` runs what the block left for after its commit at the block's end,
    Celery tasks included, here (task_always_eager within the block only), as a worker would run
    them: for tests in the test transaction, which never commits, and for transactional tests, whose
    commits run them at once. celery_worker_process tests the worker itself."""
    from rankwise.celery import app

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                yield
        finally:
            app.conf.task_always_eager = eager

    return block


@pytest.fixture
def project(db: None) -> Project:
    return ProjectFactory(name="Project A", slug="project-a")


def member(project: Project, username: str, role: str = Membership.Role.ANNOTATOR):
    """A new user (password "password") with `role` in the project."""
    user = UserFactory(username=username)
    MembershipFactory(project=project, user=user, role=role)
    return user


@pytest.fixture
def alice(project: Project):
    """Admin of project A."""
    return member(project, "alice", Membership.Role.ADMIN)


@pytest.fixture
def bob(project: Project):
    """Annotator of project A."""
    return member(project, "bob")


@pytest.fixture
def charlie(project: Project):
    """Annotator of project A."""
    return member(project, "charlie")


@pytest.fixture
def dave(project: Project):
    """Reviewer of project A."""
    return member(project, "dave", Membership.Role.REVIEWER)


@pytest.fixture
def erin(project: Project):
    """Annotator of project A."""
    return member(project, "erin")


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


def shared_cache_url() -> str:
    """A Redis database for the cache of server processes that a test starts (production settings
    require one): database 11 of the broker's Redis. Give each run its own RANKWISE_CACHE_KEY_PREFIX,
    since other runs may share that database."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    if broker.scheme != "redis":
        pytest.skip("needs Redis: run the suite with scripts/test (CELERY_BROKER_URL)")
    return urlunsplit(broker._replace(path="/11"))


class CeleryWorker:
    """A real Celery worker (queues default and gpu) in its own process group, that a test may kill
    and start again; `pid` is its main process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        start = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "rankwise", "worker", "-Q", "default,gpu",
                 "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + DEADLINE_S
        while b"ready." not in self.log.read_bytes()[start:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"Celery worker did not start:\n{self.log.read_text()}")
            time.sleep(POLL_S)

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once, as when its machine dies."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker, tmp_path_factory
) -> Iterator[CeleryWorker]:
    """A real Celery worker (queues default and gpu) on Redis, using the test database.

    Tests that use it must commit their rows (transactional_db or live_server), since the worker
    reads them from its own connection.
    """
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("needs Redis: run the suite with scripts/test (CELERY_BROKER_URL)")
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": broker}
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "rankwise", "purge", "-f", "-Q", "default,gpu"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    worker = CeleryWorker(env, tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator:
    """Debian's headless Chromium through Playwright, one per test module (Playwright's own browser
    download does not work offline). Only for tests under tests/browser/, which are all marked
    `browser`."""
    if ROOT / "tests" / "browser" not in Path(request.module.__file__).parents:
        pytest.fail("browser tests live in tests/browser/, where they are marked browser")
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"needs {CHROMIUM} (scripts/test installs it)")
    # Playwright's sync API runs an event loop in this thread while it is open, and Django then
    # refuses ORM calls from it, though they are still plain sync code. Allowed for exactly that
    # long: set process-wide, it would leak into other tests' subprocesses (check --deploy refuses it).
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
