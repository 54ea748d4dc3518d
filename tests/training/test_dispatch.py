"""A broker that is down when a snapshot is requested or a run launched: the doors answer with the
row (not 500), nothing is lost, and once the broker is back beat's jobs_dispatch queues what waited,
which a worker then builds.

The broker is a Redis server of the test's own on a free port (down: nothing listens there yet),
never the shared one; the doors run in a `manage.py shell` process pointed at it, as a web process
would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.models import AuditEvent, Membership
from tests.conftest import ROOT, CeleryWorker, _database_url, free_port
from tests.factories import MembershipFactory, ProjectFactory, SnapshotFactory, UserFactory
from tests.training.conftest import judged_project
from tests.waiting import wait_until
from training.models import DatasetSnapshot, Run
from training.services.runs import run_cancel

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DOORS = """
import json
from django.test import Client
from django.contrib.auth import get_user_model
client = Client()
client.force_login(get_user_model().objects.get(username="alice"))
api = "/api/projects/{slug}"
snapshot = client.post(f"{{api}}/snapshots/", {{"name": "while down"}}, content_type="application/json")
launch = {{"method": "reward", "snapshot": {snapshot}, "base_model": "tiny"}}
run = client.post(f"{{api}}/runs/", launch, content_type="application/json")
print(json.dumps([snapshot.status_code, snapshot.json(), run.status_code, run.json()]))
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """(the URL of a Redis broker that is down, a function that starts it)."""
    port = free_port()
    servers: list[subprocess.Popen] = []

    def start() -> None:
        servers.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        wait_until(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip()
                == b"PONG"
            ),
            what="the test's Redis to answer",
        )

    yield f"redis://127.0.0.1:{port}/0", start
    for server in servers:
        server.terminate()
        server.wait()


def test_doors_answer_with_the_row_while_the_broker_is_down_and_beat_queues_it_after(
    broker, tmp_path: Path
) -> None:
    url, start = broker
    project = judged_project(ProjectFactory(), comparisons=3)
    MembershipFactory(project=project, user=UserFactory(username="alice"), role=Membership.Role.ADMIN)
    ready = SnapshotFactory(projects=[project])
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": url,
        "RANKWISE_DATA_DIR": str(settings.DATA_DIR),
    }
    doors = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", DOORS.format(slug=project.slug, snapshot=ready.pk)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    snapshot_status, snapshot, run_status, run = json.loads(doors.stdout.strip().splitlines()[-1])
    assert (snapshot_status, snapshot["status"], snapshot["dispatched_at"]) == (201, "building", None)
    assert (run_status, run["status"], run["dispatched_at"]) == (201, "queued", None), run
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RUN_LAUNCH, target=f"run {run['id']}").exists()

    start()
    # What waited longer than the grace gets sent by beat's task; the snapshot is then built.
    earlier = timezone.now() - timedelta(minutes=2)
    DatasetSnapshot.objects.filter(pk=snapshot["id"]).update(created_at=earlier)
    Run.objects.filter(pk=run["id"]).update(created_at=earlier)
    dispatch = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from training.tasks import *; print(jobs_dispatch())"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert dispatch.stdout.strip().splitlines()[-1] == "2"
    assert DatasetSnapshot.objects.get(pk=snapshot["id"]).dispatched_at is not None
    assert Run.objects.get(pk=run["id"]).dispatched_at is not None
    run_cancel(run=Run.objects.get(pk=run["id"]))  # this test trains nothing: its task finds it cancelled
    worker = CeleryWorker(env, tmp_path / "worker.log")
    worker.start()
    try:
        wait_until(
            lambda: DatasetSnapshot.objects.get(pk=snapshot["id"]).status != DatasetSnapshot.Status.BUILDING,
            what="the worker to build the snapshot that waited for the broker",
        )
    finally:
        worker.stop()
    assert DatasetSnapshot.objects.get(pk=snapshot["id"]).status == DatasetSnapshot.Status.READY
    assert Run.objects.get(pk=run["id"]).status == Run.Status.CANCELLED
