"""Project services: creating, configuring (quality thresholds too), and memberships with at least one
admin and their attributes, each change audited."""

from __future__ import annotations

import pytest

from annotation.models import AuditEvent, Membership, Project
from annotation.quality.annotators import Thresholds
from annotation.selectors.quality import project_thresholds
from annotation.services.projects import (
    membership_attributes_set,
    membership_remove,
    membership_set,
    project_create,
    project_update,
)
from rankwise.errors import Conflict, NotFound, ValidationFailed
from tests.factories import UserFactory, make_comparison

pytestmark = pytest.mark.django_db


def test_project_create_makes_the_given_users_admins() -> None:
    alice = UserFactory(username="alice")
    project = project_create(name="Chat", slug="chat", admins=[alice], overlap=3, rating_criteria=["helpful"])
    assert (project.mode, project.candidates_per_comparison, project.overlap) == ("pairwise", 2, 3)
    assert Membership.objects.get(project=project).role == Membership.Role.ADMIN


def test_ranking_project_defaults_to_three_candidates() -> None:
    project = project_create(name="Rank", slug="rank", mode=Project.Mode.RANKING)
    assert project.candidates_per_comparison == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mode": "ranking", "candidates_per_comparison": 2}, None),
        ({"mode": "ranking", "candidates_per_comparison": 5}, "candidates_per_comparison"),
        ({"overlap": 0}, None),
        ({"gold_rate": 2.0}, None),
        ({"rating_criteria": ["a", ""]}, "rating_criteria"),
        ({"rating_criteria": ["Helpful", "helpful"]}, "rating_criteria"),
        ({"mode": "other"}, "mode"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_are_refused_with_the_field(changes: dict, field: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        project_create(name="X", slug="x", **changes)
    assert field in [d["field"] for d in caught.value.details]
    assert not Project.objects.exists()


def test_slug_must_be_unique_and_valid() -> None:
    project_create(name="A", slug="a")
    for slug in ("a", "not a slug"):
        with pytest.raises(ValidationFailed) as caught:
            project_create(name="B", slug=slug)
        assert caught.value.details[0]["field"] == "slug"


def test_mode_is_fixed_once_comparisons_exist(project: Project) -> None:
    project_update(project=project, mode="ranking", candidates_per_comparison=4)
    project_update(project=project, mode="pairwise", candidates_per_comparison=2, overlap=2)
    make_comparison(project=project)
    with pytest.raises(Conflict):
        project_update(project=project, mode="ranking", candidates_per_comparison=3)
    project = project_update(project=project, mode="pairwise", overlap=4, guidelines="Be careful.")
    assert (project.overlap, project.guidelines) == (4, "Be careful.")


def _trail(project: Project) -> list[tuple[str, str, dict]]:
    return list(
        AuditEvent.objects.filter(project=project).order_by("id").values_list("action", "target", "details")
    )


def test_membership_set_adds_and_changes_roles_each_change_audited(project: Project, alice, bob) -> None:
    charlie = UserFactory(username="charlie")
    membership_set(actor=alice, project=project, user=charlie, role="reviewer")
    membership_set(actor=alice, project=project, user=bob, role="admin")
    membership_set(actor=alice, project=project, user=bob, role="admin")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"alice": "admin", "bob": "admin", "charlie": "reviewer"}
    with pytest.raises(ValidationFailed):
        membership_set(actor=alice, project=project, user=charlie, role="owner")
    # The fixture made bob an annotator; setting the role he has records nothing.
    assert _trail(project) == [
        ("role_change", "charlie", {"from": None, "to": "reviewer"}),
        ("role_change", "bob", {"from": "annotator", "to": "admin"}),
    ]
    assert set(AuditEvent.objects.filter(project=project).values_list("actor__username", flat=True)) == {
        "alice"
    }


def test_the_last_admin_cannot_be_demoted_or_removed(project: Project, alice, bob) -> None:
    with pytest.raises(Conflict):
        membership_set(actor=alice, project=project, user=alice, role="annotator")
    with pytest.raises(Conflict):
        membership_remove(actor=alice, project=project, user=alice)
    assert _trail(project) == []
    membership_set(actor=alice, project=project, user=bob, role="admin")
    membership_remove(actor=bob, project=project, user=alice)
    membership_remove(actor=bob, project=project, user=UserFactory(username="stranger"))
    assert list(Membership.objects.filter(project=project).values_list("user__username", flat=True)) == [
        "bob"
    ]
    assert _trail(project) == [
        ("role_change", "bob", {"from": "annotator", "to": "admin"}),
        ("member_remove", "alice", {"from": "admin", "to": None}),
    ]


def test_quality_thresholds_start_at_the_defaults_of_thresholds(project: Project) -> None:
    assert project_thresholds(project=project) == Thresholds()
    assert project.review_min_agreement == 0.6
    project = project_update(
        project=project, min_consensus_agreement=0.8, min_items=3, review_min_agreement=0.5
    )
    assert project_thresholds(project=project) == Thresholds(min_consensus_agreement=0.8, min_items=3)
    assert Project.objects.get(pk=project.pk).review_min_agreement == 0.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_consensus_agreement", 1.5),
        ("min_gold_accuracy", -0.1),
        ("bias_p_value", float("nan")),
        ("min_bias_effect", 0.6),
        ("min_median_seconds", -1.0),
        ("min_items", 0),
        ("min_gold_pairs", 0),
        ("review_min_agreement", 1.01),
        ("review_min_agreement", float("inf")),
    ],
)
def test_a_bad_threshold_names_its_field_and_changes_nothing(
    project: Project, field: str, value: float
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        project_update(project=project, overlap=3, **{field: value})
    assert {d["field"] for d in caught.value.details} == {field}
    project.refresh_from_db()
    assert project.overlap == 1 and project_thresholds(project=project) == Thresholds()


def test_member_attributes_are_checked_then_replace_the_old_ones(project: Project, alice, bob) -> None:
    membership = membership_attributes_set(
        actor=alice, project=project, user=bob, attributes={"language": " de ", "expertise": "law"}
    )
    assert membership.attributes == {"expertise": "law", "language": "de"}
    for attributes, field in (
        ({"lang uage": "de"}, "attributes"),
        ({"language": ""}, "attributes.language"),
        ({"language": "de, en"}, "attributes.language"),
        ({"language": "a=b"}, "attributes.language"),
        ({"language": 3}, "attributes.language"),
        ({"language": "x" * 101}, "attributes.language"),
        ({f"k{i}": "v" for i in range(21)}, "attributes"),
        (["language"], "attributes"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            membership_attributes_set(actor=alice, project=project, user=bob, attributes=attributes)
        assert caught.value.details[0]["field"] == field, attributes
    assert Membership.objects.get(user=bob).attributes == {"expertise": "law", "language": "de"}
    membership_attributes_set(actor=alice, project=project, user=bob, attributes={})
    assert membership_attributes_set(actor=alice, project=project, user=bob, attributes={}).attributes == {}
    with pytest.raises(NotFound):
        membership_attributes_set(
            actor=alice, project=project, user=UserFactory(username="stranger"), attributes={}
        )
    # Two changes; the refused ones and the one that changed nothing left no row.
    assert _trail(project) == [
        ("member_attributes", "bob", {"from": {}, "to": {"expertise": "law", "language": "de"}}),
        ("member_attributes", "bob", {"from": {"expertise": "law", "language": "de"}, "to": {}}),
    ]
