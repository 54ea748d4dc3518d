"""Production settings pass Django's deployment checks, and refuse to start without a secret or a
shared cache; the shipped process definitions name that cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A production process has none of these; browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for themselves.
    dropped = ("DATABASE_URL", "SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "RANKWISE_CACHE_URL")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "RANKWISE_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    result = _manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        RANKWISE_ENV="production",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-" + "y" * 20,
        ALLOWED_HOSTS="rankwise.example.org",
        RANKWISE_CACHE_URL="redis://127.0.0.1:6379/1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", RANKWISE_ENV="production", ALLOWED_HOSTS="rankwise.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_shared_cache(tmp_path: Path) -> None:
    result = _manage(
        tmp_path,
        "check",
        RANKWISE_ENV="production",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-" + "y" * 20,
        ALLOWED_HOSTS="rankwise.example.org",
    )
    assert result.returncode != 0
    assert "RANKWISE_CACHE_URL" in result.stderr and "required" in result.stderr


def test_a_cache_url_that_is_not_redis_is_refused(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", RANKWISE_CACHE_URL="memcached://127.0.0.1:11211")
    assert result.returncode != 0 and "RANKWISE_CACHE_URL" in result.stderr


def test_shipped_process_definitions_name_the_shared_cache() -> None:
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert "RANKWISE_CACHE_URL: redis://redis:6379/1" in compose
    assert "RANKWISE_CACHE_URL=" in (ROOT / "deploy" / "env.example").read_text()
    # systemd units and Procfile platforms read the variables that env.example lists.
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        assert "EnvironmentFile=/etc/rankwise/env" in unit.read_text(), unit.name
    assert "RANKWISE_CACHE_URL" in (ROOT / "Procfile").read_text()


def test_procfile_queues_match_task_routes() -> None:
    from django.conf import settings

    procfile = (ROOT / "Procfile").read_text()
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {
        settings.CELERY_TASK_DEFAULT_QUEUE
    }
    served = {line.split(" -Q ")[1].split()[0] for line in procfile.splitlines() if " -Q " in line}
    assert routed <= served


def test_beat_schedules_only_registered_tasks_on_served_queues() -> None:
    from django.conf import settings

    from rankwise.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"] for entry in schedule.values()}
    assert {"annotation.tasks.leases_expire", "training.tasks.jobs_reap"} <= tasks
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, name
        assert entry["options"]["queue"] == settings.CELERY_TASK_DEFAULT_QUEUE, name
