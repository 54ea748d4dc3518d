"""A snapshot whose builder died: the reaper fails it within a minute or two with the reason and
removes its half-written files, and a retry builds it on a worker. Before, it stayed `building`
until the broker's hour-long visibility timeout and its `.building-*` directory stayed on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Membership
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.training.conftest import judged_project
from tests.waiting import wait_until
from training.models import DatasetSnapshot
from training.services.snapshots import SnapshotSpec, snapshot_build, snapshot_request
from training.services.storage import snapshots_root
from training.tasks import jobs_reap


@pytest.mark.django_db
def test_a_claimed_build_is_not_built_twice(data_dir: Path) -> None:
    project = judged_project(ProjectFactory(), comparisons=2)
    snapshot = snapshot_request(spec=SnapshotSpec(name="s", projects=[project]))
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(heartbeat_at=timezone.now())  # another worker's
    assert snapshot_build(snapshot_id=snapshot.pk).status == DatasetSnapshot.Status.BUILDING
    assert not Path(snapshot.directory).exists()


@pytest.mark.integration
def test_a_dead_builder_is_reaped_with_its_files_and_a_retry_builds_it(
    celery_worker_process, transactional_db: None
) -> None:
    project = judged_project(ProjectFactory(), comparisons=3)
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role=Membership.Role.ADMIN)
    snapshot = snapshot_request(spec=SnapshotSpec(name="s", projects=[project]))
    # What a worker killed mid-build leaves: its claim, an old heartbeat, and half-written files.
    stale = timezone.now() - timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS + 5)
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(heartbeat_at=stale)
    partial = snapshots_root() / f".building-{snapshot.pk}-dead"
    partial.mkdir(parents=True)
    (partial / "train.jsonl").write_text('{"prompt": "half')

    assert jobs_reap() == 1
    snapshot.refresh_from_db()
    assert snapshot.status == DatasetSnapshot.Status.FAILED and "lost worker" in snapshot.error
    assert not partial.exists()

    api = APIClient()
    api.force_authenticate(alice)
    answer = api.post(reverse("training-api:snapshot-retry", args=[project.slug, snapshot.pk]))
    assert answer.status_code == 200 and answer.json()["status"] == "building"

    def built() -> bool:
        snapshot.refresh_from_db()
        return snapshot.status != DatasetSnapshot.Status.BUILDING

    wait_until(built, what="the worker to build the snapshot again")
    assert snapshot.status == DatasetSnapshot.Status.READY and snapshot.train_rows + snapshot.eval_rows == 3
    again = api.post(reverse("training-api:snapshot-retry", args=[project.slug, snapshot.pk]))
    assert again.status_code == 409
