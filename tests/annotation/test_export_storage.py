"""Exporting to a file on a full or read-only disk: a clear error, and neither the file nor a part of it.

The disk is a 1 MiB tmpfs mounted for the test (tests/conftest.py: small_disk).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Project
from tests.conftest import SmallDisk
from tests.training.conftest import judged_project

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("full", "the disk is full (No space left on device)"),
        ("read-only", "the file system is read-only (Read-only file system)"),
    ],
)
def test_export_to_a_broken_disk_fails_clearly_and_leaves_no_file(
    project: Project, small_disk: SmallDisk, how: str, reason: str
) -> None:
    judged_project(project, comparisons=30)
    if how == "full":
        small_disk.fill()
    else:
        small_disk.read_only()
    out = small_disk.path / "prefs.jsonl"
    with pytest.raises(CommandError) as refused:
        call_command("export_data", "project-a", str(out), stderr=io.StringIO())
    assert str(refused.value) == f"Could not write {out}: {reason}. Nothing was written."
    assert sorted(p.name for p in small_disk.path.iterdir() if p.name != ".filler") == []
