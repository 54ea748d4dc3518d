"""Exports and snapshots use reviews: a settled comparison's preference rows come from the review."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from annotation.models import Comparison, Judgment, Membership, Project
from annotation.services.exporting import ExportSpec, export_rows
from annotation.services.judging import ordering_parse
from annotation.services.reviewing import review_accept, review_override, review_send_back
from tests.factories import MembershipFactory, UserFactory, make_comparison
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(project: Project) -> dict:
    users = {}
    for name, role in (
        ("dave", "reviewer"),
        ("bob", "annotator"),
        ("charlie", "annotator"),
        ("erin", "annotator"),
    ):
        users[name] = UserFactory(username=name, password=None)
        MembershipFactory(project=project, user=users[name], role=role)
    return users


def _judge(comparison: Comparison, user, ordering: list[list[int]]) -> None:
    Judgment.objects.create(
        comparison=comparison, annotator=user, ordering=ordering, submission_token=uuid.uuid4().hex
    )


def _texts(comparison: Comparison) -> list[str]:
    return [s.candidate.text for s in comparison.slots.select_related("candidate").order_by("position")]


def _pairs(project: Project, **spec: object) -> list[tuple[int, str, str]]:
    """(comparison id, chosen, rejected) per row; rejected reads "tie" for a kept tie."""
    rows = export_rows(projects=[project], spec=ExportSpec(**spec))
    return [
        (
            row["comparison_id"],
            row["chosen"],
            "tie" if row.get("metadata", {}).get("tie") else row["rejected"],
        )
        for row in rows
    ]


@pytest.fixture
def split(project: Project, people: dict) -> tuple[Comparison, Comparison]:
    """Two comparisons judged alike: bob and charlie prefer slot 0, erin slot 1."""
    comparisons = []
    for _ in range(2):
        comparison = make_comparison(project=project)
        a, b = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        _judge(comparison, people["bob"], [[a], [b]])
        _judge(comparison, people["charlie"], [[a], [b]])
        _judge(comparison, people["erin"], [[b], [a]])
        comparisons.append(comparison)
    return comparisons[0], comparisons[1]


def test_an_override_replaces_the_judgments_in_both_aggregates(project: Project, people: dict, split) -> None:
    overridden, plain = split
    a, b = overridden.slots.order_by("position").values_list("candidate_id", flat=True)
    review_override(
        project=project,
        reviewer=people["dave"],
        comparison_id=overridden.pk,
        ordering=ordering_parse([[b], [a]]),
    )
    (ta, tb), (pa, pb) = _texts(overridden), _texts(plain)
    # The reviewer's ordering, once, instead of the three judgments (and instead of their majority).
    assert _pairs(project) == [
        (overridden.pk, tb, ta),
        (plain.pk, pa, pb),
        (plain.pk, pa, pb),
        (plain.pk, pb, pa),
    ]
    assert _pairs(project, aggregate="majority") == [(overridden.pk, tb, ta), (plain.pk, pa, pb)]


def test_an_accept_freezes_the_consensus_it_accepted(project: Project, people: dict, split) -> None:
    accepted, plain = split
    review_accept(project=project, reviewer=people["dave"], comparison_id=accepted.pk)
    ta, tb = _texts(accepted)
    assert [p for p in _pairs(project) if p[0] == accepted.pk] == [(accepted.pk, ta, tb)]
    # Leaving out bob and charlie flips the live majority of the other comparison, not the accepted one.
    left_out = (people["bob"].pk, people["charlie"].pk)
    pa, pb = _texts(plain)
    assert _pairs(project, aggregate="majority", exclude_annotator_ids=left_out) == [
        (accepted.pk, ta, tb),
        (plain.pk, pb, pa),
    ]


def test_a_settled_comparison_passes_min_agreement_but_needs_a_judgment_in_the_filters(
    project: Project, people: dict, split
) -> None:
    reviewed, plain = split
    review_accept(project=project, reviewer=people["dave"], comparison_id=reviewed.pk)
    # Agreement of both is 1/3: only the reviewed one passes.
    assert {p[0] for p in _pairs(project, min_agreement=0.5)} == {reviewed.pk}
    # No judgment of the review's comparison passes the annotator filter: it is not in the export.
    nobody = UserFactory(username="nobody", password=None)
    assert _pairs(project, annotator_ids=(nobody.pk,)) == []


def test_a_send_back_changes_no_row_and_other_kinds_stay_raw(project: Project, people: dict, split) -> None:
    sent_back, overridden = split
    before = _pairs(project)
    review_send_back(project=project, reviewer=people["dave"], comparison_id=sent_back.pk)
    assert _pairs(project) == before
    a, b = overridden.slots.order_by("position").values_list("candidate_id", flat=True)
    review_override(
        project=project,
        reviewer=people["dave"],
        comparison_id=overridden.pk,
        ordering=ordering_parse([[b], [a]]),
    )
    raw = list(export_rows(projects=[project], spec=ExportSpec(kind="judgments")))
    assert len(raw) == 6 and [r["ordering"] for r in raw if r["comparison_id"] == overridden.pk] == [
        [[a], [b]],
        [[a], [b]],
        [[b], [a]],
    ]


def test_an_overridden_tie_follows_the_ties_option(project: Project, people: dict, split) -> None:
    tied, _plain = split
    a, b = tied.slots.order_by("position").values_list("candidate_id", flat=True)
    review_override(
        project=project, reviewer=people["dave"], comparison_id=tied.pk, ordering=ordering_parse([[a, b]])
    )
    assert [p for p in _pairs(project) if p[0] == tied.pk] == []
    ta, _tb = _texts(tied)
    assert [p for p in _pairs(project, ties="keep") if p[0] == tied.pk] == [(tied.pk, ta, "tie")]


def test_a_ranking_override_is_expanded_like_any_ranking(people: dict) -> None:
    project = Project.objects.create(name="R", slug="rank", mode="ranking", candidates_per_comparison=3)
    MembershipFactory(project=project, user=people["dave"], role=Membership.Role.REVIEWER)
    comparison = make_comparison(project=project, candidates=3)
    x, y, z = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
    _judge(comparison, people["bob"], [[x], [y], [z]])
    review_override(
        project=project,
        reviewer=people["dave"],
        comparison_id=comparison.pk,
        ordering=ordering_parse([[z], [x], [y]]),
    )
    tx, ty, tz = _texts(comparison)
    assert _pairs(project) == [(comparison.pk, tz, tx), (comparison.pk, tz, ty), (comparison.pk, tx, ty)]
    assert _pairs(project, ranking_pairs="adjacent") == [(comparison.pk, tz, tx), (comparison.pk, tx, ty)]


def test_snapshots_use_the_review(project: Project, people: dict, split, settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    overridden, _plain = split
    a, b = overridden.slots.order_by("position").values_list("candidate_id", flat=True)
    review_override(
        project=project,
        reviewer=people["dave"],
        comparison_id=overridden.pk,
        ordering=ordering_parse([[b], [a]]),
    )
    snapshot = snapshot_create(spec=SnapshotSpec(name="reviewed", projects=[project], eval_fraction=0.0))
    rows = [json.loads(line) for line in (Path(snapshot.directory) / "train.jsonl").read_text().splitlines()]
    ta, tb = _texts(overridden)
    assert [(r["chosen"], r["rejected"]) for r in rows if r["comparison_id"] == overridden.pk] == [(tb, ta)]
    assert snapshot.train_rows == 4
