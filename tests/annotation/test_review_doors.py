"""The review queue's page and API: who may see them, what they show, and the decision doors."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Comparison, Judgment, Membership, Project, Review
from tests.conftest import member
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture
def victor(db: None) -> AbstractBaseUser:
    """Reviewer of another project only."""
    user = UserFactory(username="victor", password=None)
    MembershipFactory(project=ProjectFactory(slug="project-b"), user=user, role=Membership.Role.REVIEWER)
    return user


def _judge(comparison: Comparison, user, ordering: list[list[int]], **fields: object) -> Judgment:
    judgment = Judgment.objects.create(
        comparison=comparison, annotator=user, ordering=ordering, submission_token=uuid.uuid4().hex, **fields
    )
    Comparison.objects.filter(pk=comparison.pk).update(judgment_count=comparison.judgments.count())
    return judgment


def _disputed(project: Project, bob, charlie, n: int = 1) -> list[Comparison]:
    comparisons = []
    for _ in range(n):
        comparison = make_comparison(project=project)
        a, b = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        _judge(comparison, bob, [[a], [b]], rationale="A is right")
        _judge(comparison, charlie, [[b], [a]], flags=["unsure"])
        comparisons.append(comparison)
    return comparisons


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_reviewers_list_the_queue_with_every_judgment_and_the_model_names(
    project: Project, dave, bob, charlie
) -> None:
    assert project.hides_model_names  # hidden from annotators, not from reviewers
    (comparison,) = _disputed(project, bob, charlie)
    make_comparison(project=project)  # unjudged: not in the queue
    body = _api(dave).get(reverse("api:review-queue", args=["project-a"])).json()
    assert body["count"] == 1
    (item,) = body["results"]
    assert item["id"] == comparison.pk and item["state"] == "open"
    assert item["reasons"] == ["low_agreement", "flagged"] and item["agreement"] == 0.0
    assert [c["model"] for c in item["candidates"]] == ["model-0", "model-1"]
    assert [c["label"] for c in item["candidates"]] == ["A", "B"]
    assert [(j["annotator"], j["rationale"], j["flags"]) for j in item["judgments"]] == [
        ("bob", "A is right", []),
        ("charlie", "", ["unsure"]),
    ]
    assert item["consensus"] == [sorted(c["id"] for c in item["candidates"])]  # one vote each way: a tie
    assert item["reviews"] == []
    only_flagged = _api(dave).get(reverse("api:review-queue", args=["project-a"]), {"reason": "flagged"})
    assert only_flagged.json()["count"] == 1
    bad = _api(dave).get(reverse("api:review-queue", args=["project-a"]), {"reason": "boring"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "reason"


def test_annotators_are_refused_and_other_projects_reviewers_find_nothing(
    project: Project, dave, bob, charlie, victor
) -> None:
    (comparison,) = _disputed(project, bob, charlie)
    api_urls = [
        reverse("api:review-queue", args=["project-a"]),
        reverse("api:review-item", args=["project-a", comparison.pk]),
    ]
    page_urls = [reverse("review", args=["project-a"])]
    post_urls = [
        reverse("api:review-item", args=["project-a", comparison.pk]),
        reverse("review-decide", args=["project-a", comparison.pk]),
    ]
    for user, status in ((bob, 403), (victor, 404)):
        for url in api_urls:
            assert _api(user).get(url).status_code == status, url
        for url in page_urls:
            assert _web(user).get(url).status_code == status, url
        for url in post_urls:
            assert _web(user).post(url, {"decision": "accept"}).status_code == status, url
    assert not Review.objects.exists()
    # A comparison of project B under project A's slug is not found, even for A's reviewer.
    foreign = make_comparison(project=Project.objects.get(slug="project-b"))
    assert _api(dave).get(reverse("api:review-item", args=["project-a", foreign.pk])).status_code == 404
    posted = _api(dave).post(
        reverse("api:review-item", args=["project-a", foreign.pk]), {"decision": "accept"}
    )
    assert posted.status_code == 404


def test_api_decisions_answer_201_then_200_on_retry_409_on_a_clash_400_on_bad_input(
    project: Project, dave, bob, charlie
) -> None:
    first, second = _disputed(project, bob, charlie, n=2)
    url = reverse("api:review-item", args=["project-a", first.pk])
    client = _api(dave)
    a, b = first.slots.order_by("position").values_list("candidate_id", flat=True)
    created = client.post(
        url, {"decision": "override", "ordering": [[b], [a]], "note": "B cites sources"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["decision"] == "override" and created.json()["reviewer"] == "dave"
    again = client.post(url, {"decision": "override", "ordering": [[b], [a]]}, format="json")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    clash = client.post(url, {"decision": "accept"}, format="json")
    assert clash.status_code == 409 and clash.json()["details"][0]["field"] == "decision"
    other = reverse("api:review-item", args=["project-a", second.pk])
    for body, field in (
        ({"decision": "approve"}, "decision"),
        ({"decision": "override", "ordering": [[a], [b]]}, "ordering"),
        ({"decision": "send_back", "extra_judgments": 0}, "extra_judgments"),
        ({"decision": "accept", "note": "x" * 2001}, "note"),
    ):
        response = client.post(other, body, format="json")
        assert response.status_code == 400 and response.json()["details"][0]["field"] == field, body
    # Only dave has not seen it: two more judgments would never come in.
    hopeless = client.post(other, {"decision": "send_back", "extra_judgments": 2}, format="json")
    assert hopeless.status_code == 409 and hopeless.json()["details"][0]["field"] == "extra_judgments"
    member(project, "erin")
    sent = client.post(other, {"decision": "send_back", "extra_judgments": 2}, format="json")
    assert sent.status_code == 201 and sent.json()["extra_judgments"] == 2
    assert list(Review.objects.order_by("id").values_list("decision", flat=True)) == ["override", "send_back"]
    assert AuditEvent.objects.filter(action="review").count() == 2
    state = client.get(other).json()
    # Two judgments, overlap 1, two more wanted: 3 beyond the overlap.
    assert state["state"] == "waiting" and state["extra_judgments"] == 3 and len(state["reviews"]) == 1
    assert client.get(url).json()["state"] == "settled"


def test_queue_api_queries_do_not_grow_with_the_queue(project: Project, dave, bob, charlie) -> None:
    _disputed(project, bob, charlie, n=2)
    client = _api(dave)
    url = reverse("api:review-queue", args=["project-a"])
    client.get(url)
    with CaptureQueriesContext(connection) as cached:
        assert client.get(url).json()["count"] == 2
    _disputed(project, bob, charlie, n=6)
    with CaptureQueriesContext(connection) as fresh:
        assert client.get(url).json()["count"] == 8  # new judgments: the reasons are read again
    with CaptureQueriesContext(connection) as cached_again:
        assert client.get(url).json()["count"] == 8
    assert len(cached_again) == len(cached)
    # Reading the reasons again costs what the dashboard's selector costs, plus judgment flags.
    assert len(fresh) == len(cached) + 7


def test_a_decision_is_seen_at_once_though_the_reasons_are_cached(
    project: Project, dave, bob, charlie
) -> None:
    first, second = _disputed(project, bob, charlie, n=2)
    client = _api(dave)
    url = reverse("api:review-queue", args=["project-a"])
    assert [item["id"] for item in client.get(url).json()["results"]] == [first.pk, second.pk]
    client.post(reverse("api:review-item", args=["project-a", first.pk]), {"decision": "accept"})
    assert [item["id"] for item in client.get(url).json()["results"]] == [second.pk]
    a, b = second.slots.order_by("position").values_list("candidate_id", flat=True)
    _judge(second, UserFactory(username="erin", password=None), [[a], [b]])  # 2 against 1: still low
    assert [item["id"] for item in client.get(url).json()["results"]] == [second.pk]
    project.review_min_agreement = 0.3
    project.save()
    # 1/3 is not below 0.3: only charlie's "unsure" flag keeps it in the queue.
    assert [item["reasons"] for item in client.get(url).json()["results"]] == [["flagged"]]


def test_the_page_shows_the_first_item_and_takes_decisions(project: Project, dave, bob, charlie) -> None:
    first, second = _disputed(project, bob, charlie, n=2)
    client = _web(dave)
    page = client.get(reverse("review", args=["project-a"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-comparison="{first.pk}"' in html
    assert "model-0" in html and "A is right" in html and "charlie" in html
    assert "Accept consensus <kbd>a</kbd>" in html
    accepted = client.post(reverse("review-decide", args=["project-a", first.pk]), {"decision": "accept"})
    assert accepted.status_code == 302 and accepted["Location"] == reverse("review", args=["project-a"])
    # The next load shows the next comparison; the settled one has no form any more.
    assert (
        f'data-comparison="{second.pk}"' in client.get(reverse("review", args=["project-a"])).content.decode()
    )
    settled = client.get(reverse("review", args=["project-a"]), {"comparison": first.pk}).content.decode()
    assert 'data-state="settled"' in settled and "decision-form" not in settled
    a, b = second.slots.order_by("position").values_list("candidate_id", flat=True)
    decide = reverse("review-decide", args=["project-a", second.pk])
    refused = client.post(
        decide, {"decision": "override", f"rank-{a}": "1", f"rank-{b}": "3", "note": "kept"}
    )
    assert refused.status_code == 400
    assert (
        "ranks are whole numbers from 1 to 2" in refused.content.decode()
        and "kept" in refused.content.decode()
    )
    assert Review.objects.count() == 1
    overridden = client.post(decide, {"decision": "override", f"rank-{a}": "2", f"rank-{b}": "1"})
    assert overridden.status_code == 302
    assert Review.objects.get(comparison=second).ordering == [[b], [a]]
    empty = client.get(reverse("review", args=["project-a"])).content.decode()
    assert "Nothing to review" in empty
