"""Projects, members, comparisons, my judgments and demonstrations over the REST API."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Demonstration, Judgment, Membership, Project
from tests.factories import UserFactory, make_comparison

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _judge(comparison, annotator, token: str) -> Judgment:
    ids = [s.candidate_id for s in comparison.slots.all()]
    return Judgment.objects.create(
        comparison=comparison, annotator=annotator, ordering=[[ids[0]], [ids[1]]], submission_token=token
    )


def test_project_list_shows_only_my_projects_with_my_role(bob, mallory) -> None:
    body = _client(bob).get("/api/projects/").json()
    assert body["count"] == 1
    assert body["results"][0]["slug"] == "project-a" and body["results"][0]["role"] == "annotator"


def test_token_authentication_works_without_a_session(bob) -> None:
    client = APIClient()
    assert client.get("/api/projects/").status_code == 403
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    assert client.get("/api/projects/project-a/").json()["role"] == "annotator"
    assert client.get("/api/projects/project-a/").wsgi_request.auth.user == bob


def test_unknown_tokens_and_tokens_of_inactive_users_are_refused(bob) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/projects/").status_code in (401, 403)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")
    type(bob).objects.filter(pk=bob.pk).update(is_active=False)
    assert client.get("/api/projects/").status_code in (401, 403)


def test_only_admins_update_settings_and_it_is_audited(alice, bob, project: Project) -> None:
    assert _client(bob).patch("/api/projects/project-a/", {"overlap": 3}, format="json").status_code == 403
    response = _client(alice).patch("/api/projects/project-a/", {"overlap": 3}, format="json")
    assert response.status_code == 200 and response.json()["overlap"] == 3
    bad = _client(alice).patch("/api/projects/project-a/", {"mode": "ranking"}, format="json")
    assert bad.status_code == 400 and bad.json()["details"]
    assert AuditEvent.objects.get().action == AuditEvent.Action.PROJECT_UPDATE


def test_admin_adds_changes_and_removes_members_with_an_audit_trail(alice, bob, project: Project) -> None:
    UserFactory(username="dave")
    admin = _client(alice)
    assert (
        admin.post("/api/projects/project-a/members/", {"username": "dave", "role": "reviewer"}).status_code
        == 201
    )
    assert admin.patch("/api/projects/project-a/members/dave/", {"role": "admin"}).json()["role"] == "admin"
    assert admin.delete("/api/projects/project-a/members/bob/").status_code == 204
    assert (
        admin.post("/api/projects/project-a/members/", {"username": "nobody", "role": "admin"}).status_code
        == 404
    )
    members = {m["username"]: m["role"] for m in admin.get("/api/projects/project-a/members/").json()}
    assert members == {"alice": "admin", "dave": "admin"}
    trail = admin.get("/api/projects/project-a/audit/").json()["results"]
    assert [(e["action"], e["target"]) for e in trail] == [
        ("member_remove", "bob"),
        ("role_change", "dave"),
        ("role_change", "dave"),
    ]
    assert trail[1]["details"] == {"from": "reviewer", "to": "admin"}


def test_last_admin_cannot_be_demoted(alice, project: Project) -> None:
    response = _client(alice).patch("/api/projects/project-a/members/alice/", {"role": "annotator"})
    assert response.status_code == 409
    assert Membership.objects.get(user=alice).role == "admin"


def test_annotators_see_no_model_names_nor_gold_but_reviewers_do(bob, project: Project) -> None:
    make_comparison(project=project)
    make_comparison(project=project, gold_ordering=[[1], [2]])
    reviewer = UserFactory(username="rita")
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    mine = _client(bob).get("/api/projects/project-a/comparisons/?gold=true").json()
    assert mine["count"] == 2, "annotators cannot filter on gold"
    assert {c["model"] for r in mine["results"] for c in r["candidates"]} == {None}
    assert {r["gold_ordering"] is None for r in mine["results"]} == {True}
    theirs = _client(reviewer).get("/api/projects/project-a/comparisons/?gold=true").json()
    assert theirs["count"] == 1 and theirs["results"][0]["candidates"][0]["model"] == "model-0"


def test_comparison_list_is_paginated_and_filtered(alice, project: Project) -> None:
    for _ in range(3):
        make_comparison(project=project, round=1)
    make_comparison(project=project)
    body = _client(alice).get("/api/projects/project-a/comparisons/?round=1&page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert _client(alice).get("/api/projects/project-a/comparisons/?round=x").status_code == 400
    assert _client(alice).get("/api/projects/project-a/comparisons/?page=9").status_code == 404


def test_judgments_and_demonstrations_show_only_my_own_to_annotators(
    alice, bob, charlie, project: Project
) -> None:
    comparison = make_comparison(project=project)
    mine = _judge(comparison, bob, "t-bob")
    _judge(comparison, charlie, "t-charlie")
    Demonstration.objects.create(prompt=comparison.prompt, annotator=bob, text="bob's")
    Demonstration.objects.create(prompt=comparison.prompt, annotator=charlie, text="charlie's")
    assert [j["id"] for j in _client(bob).get("/api/projects/project-a/judgments/").json()["results"]] == [
        mine.pk
    ]
    assert [
        d["text"] for d in _client(bob).get("/api/projects/project-a/demonstrations/").json()["results"]
    ] == ["bob's"]
    everyone = _client(alice).get("/api/projects/project-a/demonstrations/").json()
    assert everyone["count"] == 2
    only = _client(alice).get("/api/projects/project-a/demonstrations/?annotator=charlie").json()
    assert [d["annotator"] for d in only["results"]] == ["charlie"]


def test_comparison_list_queries_do_not_grow_with_rows(
    alice, project: Project, django_assert_max_num_queries
) -> None:
    for _ in range(12):
        make_comparison(project=project, candidates=2)
    client = _client(alice)
    with django_assert_max_num_queries(8):
        assert len(client.get("/api/projects/project-a/comparisons/").json()["results"]) == 12


def test_quality_thresholds_are_project_settings_and_bad_ones_change_nothing(alice, project: Project) -> None:
    admin = _client(alice)
    assert admin.get("/api/projects/project-a/").json()["min_consensus_agreement"] == 0.6
    ok = admin.patch("/api/projects/project-a/", {"min_consensus_agreement": 0.75}, format="json")
    assert ok.status_code == 200 and ok.json()["min_consensus_agreement"] == 0.75
    bad = admin.patch(
        "/api/projects/project-a/", {"min_consensus_agreement": 1.5, "overlap": 4}, format="json"
    )
    assert bad.status_code == 400 and "min_consensus_agreement" in bad.json()["details"][0]
    project.refresh_from_db()
    assert (project.min_consensus_agreement, project.overlap) == (0.75, 1)
    assert AuditEvent.objects.filter(action="project_update").count() == 1


def test_member_attributes_over_the_api_audited_and_checked_first(alice, bob, project: Project) -> None:
    UserFactory(username="dave")
    admin = _client(alice)
    added = admin.post(
        "/api/projects/project-a/members/",
        {"username": "dave", "role": "annotator", "attributes": {"language": "de"}},
        format="json",
    )
    assert added.status_code == 201 and added.json()["attributes"] == {"language": "de"}
    changed = admin.patch(
        "/api/projects/project-a/members/bob/",
        {"attributes": {"expertise": "law", "language": "en"}},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json() | {"created_at": None} == {
        "username": "bob",
        "role": "annotator",
        "attributes": {"expertise": "law", "language": "en"},
        "created_at": None,
    }
    # A bad attribute refuses the whole request: the role is not changed either.
    bad = admin.patch(
        "/api/projects/project-a/members/bob/",
        {"role": "reviewer", "attributes": {"language": "en, de"}},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "attributes.language"
    membership = Membership.objects.get(user=bob)
    assert (membership.role, membership.attributes) == ("annotator", {"expertise": "law", "language": "en"})
    trail = admin.get("/api/projects/project-a/audit/?action=member_attributes").json()["results"]
    assert [(e["target"], e["details"]["to"]) for e in trail] == [
        ("bob", {"expertise": "law", "language": "en"}),
        ("dave", {"language": "de"}),
    ]
    listed = {m["username"]: m["attributes"] for m in admin.get("/api/projects/project-a/members/").json()}
    assert listed["alice"] == {} and listed["dave"] == {"language": "de"}
