"""Project services: creating, configuring, and memberships with at least one admin."""

from __future__ import annotations

import pytest

from annotation.errors import Conflict, ValidationFailed
from annotation.models import Membership, Project
from annotation.services.projects import membership_remove, membership_set, project_create, project_update
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


def test_membership_set_adds_and_changes_roles(project: Project, alice, bob) -> None:
    charlie = UserFactory(username="charlie")
    membership_set(project=project, user=charlie, role="reviewer")
    membership_set(project=project, user=bob, role="admin")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"alice": "admin", "bob": "admin", "charlie": "reviewer"}
    with pytest.raises(ValidationFailed):
        membership_set(project=project, user=charlie, role="owner")


def test_the_last_admin_cannot_be_demoted_or_removed(project: Project, alice, bob) -> None:
    with pytest.raises(Conflict):
        membership_set(project=project, user=alice, role="annotator")
    with pytest.raises(Conflict):
        membership_remove(project=project, user=alice)
    membership_set(project=project, user=bob, role="admin")
    membership_remove(project=project, user=alice)
    assert list(Membership.objects.filter(project=project).values_list("user__username", flat=True)) == [
        "bob"
    ]
