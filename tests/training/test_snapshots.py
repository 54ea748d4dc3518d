"""Dataset snapshots: deterministic split, manifest hashes, atomic write and immutability."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from annotation.models import Judgment, Project
from rankwise.errors import ValidationFailed
from tests.factories import UserFactory, make_comparison
from tests.training.conftest import judged_project
from training.models import DatasetSnapshot
from training.services.snapshots import (
    SnapshotSpec,
    snapshot_build,
    snapshot_create,
    snapshot_request,
    snapshot_verify,
    split_is_eval,
)

pytestmark = pytest.mark.django_db


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_snapshot_splits_by_comparison_and_writes_manifest(project: Project, alice, data_dir: Path) -> None:
    judged_project(project, comparisons=40, demonstrations=3)
    snapshot = snapshot_create(
        created_by=alice,
        spec=SnapshotSpec(name="first", projects=[project], split_seed=7, eval_fraction=0.25),
    )

    assert snapshot.status == DatasetSnapshot.Status.READY
    directory = Path(snapshot.directory)
    assert directory.parent == data_dir / "snapshots" and directory.name.startswith(f"{snapshot.pk}-")
    train, evaluation = lines(directory / "train.jsonl"), lines(directory / "eval.jsonl")
    assert len(train) + len(evaluation) == 40
    assert 0 < len(evaluation) < 20
    assert {r["comparison_id"] for r in train}.isdisjoint({r["comparison_id"] for r in evaluation})
    assert all(split_is_eval(key=r["comparison_id"], seed=7, eval_fraction=0.25) for r in evaluation)
    assert set(train[0]) >= {"prompt", "chosen", "rejected"}
    assert len(lines(directory / "sft.jsonl")) == 3
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest == snapshot.manifest
    for name, meta in manifest["files"].items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == meta["sha256"]
        assert meta["rows"] == len((directory / name).read_text().splitlines())
    assert manifest["counts"] == {"train": len(train), "eval": len(evaluation), "sft": 3}
    assert (snapshot.train_rows, snapshot.eval_rows, snapshot.sft_rows) == (len(train), len(evaluation), 3)
    assert manifest["created_by"] == "alice" and manifest["split"]["seed"] == 7
    assert not list((data_dir / "snapshots").glob(".building-*"))


def test_same_data_and_seed_give_same_files_and_sha(project: Project, data_dir: Path) -> None:
    judged_project(project, comparisons=20)
    one = snapshot_create(spec=SnapshotSpec(name="a", projects=[project], split_seed=3))
    two = snapshot_create(spec=SnapshotSpec(name="b", projects=[project], split_seed=3))
    other_seed = snapshot_create(
        spec=SnapshotSpec(name="c", projects=[project], split_seed=4, eval_fraction=0.5)
    )

    assert one.sha256 == two.sha256
    assert one.manifest["files"] == two.manifest["files"]
    assert other_seed.sha256 != one.sha256


def test_snapshot_files_are_read_only_and_verified(project: Project, data_dir: Path) -> None:
    judged_project(project, comparisons=6)
    snapshot = snapshot_create(spec=SnapshotSpec(name="frozen", projects=[project]))
    train = Path(snapshot.directory) / "train.jsonl"

    assert snapshot_verify(snapshot=snapshot) == []
    assert not train.stat().st_mode & 0o222
    train.chmod(0o644)
    train.write_text("tampered\n")
    assert snapshot_verify(snapshot=snapshot) == ["train.jsonl"]


def test_filters_are_validated_by_field(project: Project, data_dir: Path) -> None:
    with pytest.raises(ValidationFailed) as error:
        snapshot_create(spec=SnapshotSpec(name="x", projects=[project], filters={"ties": "sometimes"}))
    assert error.value.details[0]["field"] == "ties"
    with pytest.raises(ValidationFailed) as error:
        snapshot_create(spec=SnapshotSpec(name="x", projects=[project], filters={"colour": "red"}))
    assert error.value.details == [{"field": "colour", "reason": "is not a snapshot filter"}]
    with pytest.raises(ValidationFailed) as error:
        snapshot_create(spec=SnapshotSpec(name=" ", projects=[project], eval_fraction=1.5))
    assert {d["field"] for d in error.value.details} == {"name", "eval_fraction"}
    assert not DatasetSnapshot.objects.exists()


def test_filters_are_kept_in_manifest(project: Project, data_dir: Path) -> None:
    judged_project(project, comparisons=4)
    snapshot = snapshot_create(
        spec=SnapshotSpec(name="kept", projects=[project], filters={"ties": "keep", "conversational": True})
    )
    assert snapshot.filters == {"ties": "keep", "conversational": "true"}
    assert snapshot.manifest["filters"] == snapshot.filters
    row = json.loads((Path(snapshot.directory) / "train.jsonl").read_text().splitlines()[0])
    assert isinstance(row["prompt"], list)


def test_build_recovers_from_a_crash_and_does_nothing_twice(project: Project, data_dir: Path) -> None:
    judged_project(project, comparisons=4)
    snapshot = snapshot_request(spec=SnapshotSpec(name="again", projects=[project]))
    leftover = Path(snapshot.directory)
    leftover.mkdir(parents=True)
    (leftover / "train.jsonl").write_text("from a build that died before marking it ready\n")
    (leftover / "train.jsonl").chmod(0o444)

    built = snapshot_build(snapshot_id=snapshot.pk)
    assert built.status == DatasetSnapshot.Status.READY and snapshot_verify(snapshot=built) == []
    assert snapshot_build(snapshot_id=snapshot.pk).manifest == built.manifest


def test_exclude_flagged_leaves_out_gold_failers(project: Project, data_dir: Path) -> None:
    good, bad = UserFactory(username="careful"), UserFactory(username="careless")
    for _ in range(10):
        comparison = make_comparison(project=project)
        first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        comparison.gold_ordering = [[first], [second]]
        comparison.save()
        for user, ordering in ((good, [[first], [second]]), (bad, [[second], [first]])):
            Judgment.objects.create(
                comparison=comparison, annotator=user, ordering=ordering, submission_token=uuid.uuid4().hex
            )

    everyone = snapshot_create(spec=SnapshotSpec(name="all", projects=[project], eval_fraction=0.0))
    assert everyone.train_rows == 20 and everyone.manifest["excluded_flagged_annotators"] == []
    careful = snapshot_create(
        spec=SnapshotSpec(
            name="careful", projects=[project], eval_fraction=0.0, filters={"exclude_flagged": "gold"}
        )
    )
    assert careful.train_rows == 10 and careful.manifest["excluded_flagged_annotators"] == [bad.pk]
    assert careful.filters == {"exclude_flagged": "gold"}
    with pytest.raises(ValidationFailed) as error:
        snapshot_create(spec=SnapshotSpec(name="x", projects=[project], filters={"exclude_flagged": "some"}))
    assert error.value.details[0]["field"] == "exclude_flagged"
    # Under the project's own thresholds: gold accuracy 0 is fine when the bar is 0.
    project.min_gold_accuracy = 0.0
    project.save()
    lenient = snapshot_create(
        spec=SnapshotSpec(
            name="lenient", projects=[project], eval_fraction=0.0, filters={"exclude_flagged": "gold"}
        )
    )
    assert lenient.train_rows == 20 and lenient.manifest["excluded_flagged_annotators"] == []


def test_snapshot_of_a_round_holds_only_that_round_and_records_it(project: Project, data_dir: Path) -> None:
    from training.services.runs import RunLaunchSpec, run_launch

    judged_project(project, comparisons=6)
    judge = UserFactory(username="round-judge")
    for round in (1, 1, 2):
        comparison = make_comparison(project=project, round=round)
        first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        Judgment.objects.create(
            comparison=comparison,
            annotator=judge,
            ordering=[[first], [second]],
            submission_token=uuid.uuid4().hex,
        )
    arena = make_comparison(project=project, round=1, arena=True)
    first, second = arena.slots.values_list("candidate_id", flat=True)
    Judgment.objects.create(
        comparison=arena, annotator=judge, ordering=[[first], [second]], submission_token="a"
    )

    of_round = snapshot_create(
        spec=SnapshotSpec(name="round 1", projects=[project], filters={"round": "1"}, eval_fraction=0.0)
    )
    rows = lines(Path(of_round.directory) / "train.jsonl")
    assert len(rows) == of_round.train_rows == 2 and arena.pk not in {r["comparison_id"] for r in rows}
    assert of_round.rounds == of_round.manifest["rounds"] == [1] and of_round.filters == {"round": "1"}
    with_arena = snapshot_create(
        spec=SnapshotSpec(
            name="with arena",
            projects=[project],
            filters={"round": [1], "include_arena": True},
            eval_fraction=0.0,
        )
    )
    assert with_arena.train_rows == 3
    # Without a round filter: every round with judged comparisons.
    assert snapshot_create(spec=SnapshotSpec(name="all", projects=[project])).rounds == [0, 1, 2]
    with pytest.raises(ValidationFailed) as caught:
        snapshot_request(spec=SnapshotSpec(name="bad", projects=[project], filters={"round": "last"}))
    assert caught.value.details[0]["field"] == "round"

    run = run_launch(
        project=project, spec=RunLaunchSpec(method="reward", snapshot=of_round, base_model="tiny")
    )
    assert run.round == 1
    assert (
        run_launch(
            project=project,
            spec=RunLaunchSpec(method="reward", snapshot=of_round, base_model="tiny", round=5),
        ).round
        == 5
    )
