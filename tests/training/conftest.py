"""Training test helpers: projects with judged comparisons, and a private data directory."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import Demonstration, Judgment, Project
from tests.conftest import ROOT
from tests.factories import ProjectFactory, UserFactory, make_comparison
from training.models import DatasetSnapshot
from training.services.snapshots import SnapshotSpec, snapshot_create


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """Passwords are only checked by force_login-free logins; skip the deliberately slow hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    """A private RANKWISE_DATA_DIR for tests that run no worker."""
    settings.DATA_DIR = tmp_path
    return tmp_path


def judged_project(project: Project, *, comparisons: int = 12, demonstrations: int = 0) -> Project:
    """Adds `comparisons` pairwise comparisons, each judged once (first candidate better)."""
    annotator = UserFactory(username=f"judge-{project.slug}")
    for _ in range(comparisons):
        comparison = make_comparison(project=project)
        first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        Judgment.objects.create(
            comparison=comparison,
            annotator=annotator,
            ordering=[[first], [second]],
            submission_token=uuid.uuid4().hex,
        )
        if demonstrations > 0:
            demonstrations -= 1
            Demonstration.objects.create(
                prompt=comparison.prompt, annotator=annotator, text="A careful answer."
            )
    return project


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """The tiny local model the run tests train, built once per session."""
    path = settings.RANKWISE_DEFAULT_MODEL
    subprocess.run(
        [sys.executable, "manage.py", "build_tiny_model", "--output", path],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture
def judged_snapshot(transactional_db: None) -> tuple[Project, DatasetSnapshot]:
    """A committed project with 12 judged comparisons and a snapshot of it, for runs on a worker."""
    project = judged_project(ProjectFactory(), comparisons=12)
    return project, snapshot_create(spec=SnapshotSpec(name="tiny", projects=[project], eval_fraction=0.25))
