"""Annotate pages and JSON endpoints: permissions, status codes, CSRF and wiring to the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Judgment, Project
from annotation.views.annotating import answer_summary
from tests.factories import MembershipFactory, ProjectFactory, make_comparison

pytestmark = pytest.mark.django_db


def _client(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _next(client: Client, slug: str = "project-a"):
    return client.post(reverse("api:item-next", args=[slug]), content_type="application/json")


def _submit(client: Client, item: dict, token: str = "token-door-1", **extra):
    a, b = (c["id"] for c in item["candidates"][:2])
    body = {"assignment": item["assignment"], "submission_token": token, "ordering": [[a], [b]], **extra}
    return client.post(
        reverse("api:judgment-submit", args=["project-a"]), body, content_type="application/json"
    )


def test_next_returns_the_item_with_rendered_untrusted_text(project: Project, bob) -> None:
    comparison = make_comparison(project=project)
    comparison.slots.first().candidate.__class__.objects.filter(
        pk=comparison.slots.first().candidate_id
    ).update(text="<script>alert(1)</script> **bold**")
    response = _next(_client(bob))
    assert response.status_code == 200
    item = response.json()["item"]
    assert item["mode"] == "pairwise" and [c["label"] for c in item["candidates"]] == ["A", "B"]
    html = " ".join(c["html"] for c in item["candidates"])
    assert "<script" not in html and "&lt;script&gt;" in html and "<strong>bold</strong>" in html
    assert all(c["model"] is None for c in item["candidates"])  # names hidden by default
    assert response.json()["counts"] == {
        "done_today": 0,
        "done_total": 0,
        "remaining": 1,
        "remaining_capped": False,
    }


def test_gold_items_look_like_any_other_item(project: Project, bob, charlie) -> None:
    project.gold_rate = 1.0
    project.save()
    gold = make_comparison(project=project)
    gold.gold_ordering = [[gold.slots.first().candidate_id]]
    gold.save()
    make_comparison(project=project)
    gold_item = _next(_client(bob)).json()
    assert gold_item["item"]["assignment"] == gold.assignments.get().pk
    Project.objects.filter(pk=project.pk).update(gold_rate=0.0)
    regular_item = _next(_client(charlie)).json()
    assert regular_item["item"]["assignment"] != gold_item["item"]["assignment"]
    assert set(gold_item["item"]) == set(regular_item["item"])
    assert "gold" not in str(gold_item).lower()


def test_model_names_are_shown_when_the_project_allows(project: Project, bob) -> None:
    project.hides_model_names = False
    project.save()
    make_comparison(project=project)
    item = _next(_client(bob)).json()["item"]
    assert sorted(c["model"] for c in item["candidates"]) == ["model-0", "model-1"]


def test_empty_queue_gives_null_item(project: Project, bob) -> None:
    assert _next(_client(bob)).json()["item"] is None


def test_non_members_and_anonymous_get_nothing(project: Project, mallory) -> None:
    make_comparison(project=project)
    assert _next(_client(mallory)).status_code == 404
    assert _next(Client()).status_code == 403
    assert Client().get(reverse("annotate", args=["project-a"])).status_code == 302
    assert _client(mallory).get(reverse("annotate", args=["project-a"])).status_code == 404
    assert not Assignment.objects.exists()


def test_submit_needs_the_csrf_token(project: Project, bob) -> None:
    make_comparison(project=project)
    client = _client(bob, csrf=True)
    assert _next(client).status_code == 403


def test_submit_then_replay_records_one_judgment(project: Project, bob) -> None:
    make_comparison(project=project)
    client = _client(bob)
    item = _next(client).json()["item"]
    first = _submit(client, item, strength="clearly", time_spent_ms=1500)
    assert first.status_code == 201
    assert _submit(client, item, strength="clearly").json()["judgment"] == first.json()["judgment"]
    judgment = Judgment.objects.get()
    assert judgment.time_spent_ms == 1500
    # The submit answer carries no counts: the page asks for the next item, whose answer has them.
    assert set(first.json()) == {"judgment"}
    assert _next(client).json()["counts"]["done_total"] == 1


def test_submit_with_next_brings_the_next_item_and_counts(project: Project, bob) -> None:
    make_comparison(project=project)
    make_comparison(project=project)
    client = _client(bob)
    item = _next(client).json()["item"]
    first = _submit(client, item, next=True)
    assert first.status_code == 201
    following = first.json()["next"]
    assert following["item"]["assignment"] != item["assignment"]
    assert following["counts"] == {
        "done_today": 1,
        "done_total": 1,
        "remaining": 1,
        "remaining_capped": False,
    }
    # A replay records nothing more and brings the same next item (the lease held now).
    replay = _submit(client, item, next=True).json()
    assert replay["judgment"] == first.json()["judgment"] and Judgment.objects.count() == 1
    assert replay["next"]["item"]["assignment"] == following["item"]["assignment"]
    last = _submit(client, following["item"], token="token-door-2", next=True).json()["next"]
    assert last["item"] is None and last["counts"]["done_total"] == 2
    # A refused answer brings nothing: the page asks next/ itself.
    refused = _submit(client, following["item"], token="token-door-3", flags=["nonsense"], next=True)
    assert refused.status_code == 400 and "next" not in refused.json()


def test_the_last_item_ends_with_an_exact_count_after_a_remembered_long_queue(
    project: Project, bob, monkeypatch
) -> None:
    monkeypatch.setattr("annotation.selectors.annotating.REMAINING_COUNT_MAX", 1)
    make_comparison(project=project)
    client = _client(bob)
    first = _next(client).json()
    # The held item alone reaches this cap: the count is remembered as a long queue.
    assert first["counts"]["remaining_capped"] is True
    answer = _submit(client, first["item"], next=True).json()["next"]
    assert answer["item"] is None
    assert answer["counts"] == {"done_today": 1, "done_total": 1, "remaining": 0, "remaining_capped": False}


def test_invalid_and_conflicting_submissions_get_clear_errors(project: Project, bob, charlie) -> None:
    make_comparison(project=project)
    item = _next(_client(bob)).json()["item"]
    bad = _submit(_client(bob), item, flags=["nonsense"])
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "flags"
    assert _submit(_client(charlie), item).status_code == 403
    Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    late = _submit(_client(bob), item)
    assert late.status_code == 409 and "ran out" in late.json()["error"]
    assert not Judgment.objects.exists()


def test_ids_past_64_bits_are_refused_as_out_of_range(project: Project, bob) -> None:
    make_comparison(project=project)
    item = _next(_client(bob)).json()["item"]
    huge = 2**71
    skip = _client(bob).post(
        reverse("api:assignment-skip", args=["project-a"]),
        {"assignment": huge, "reason": "unclear"},
        content_type="application/json",
    )
    submitted = _submit(_client(bob), {**item, "assignment": huge})
    based = _submit(_client(bob), item, demonstration_text="better", based_on=huge)
    assert [r.status_code for r in (skip, submitted, based)] == [400, 400, 400]
    assert submitted.json()["details"][0]["field"] == "assignment"
    assert not Judgment.objects.exists() and Assignment.objects.get().status == Assignment.Status.ACTIVE


def test_skip_and_move_on(project: Project, bob) -> None:
    make_comparison(project=project)
    second = make_comparison(project=project)
    client = _client(bob)
    item = _next(client).json()["item"]
    url = reverse("api:assignment-skip", args=["project-a"])
    assert (
        client.post(url, {"assignment": item["assignment"]}, content_type="application/json").status_code
        == 400
    )
    response = client.post(
        url, {"assignment": item["assignment"], "reason": "unclear"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert Assignment.objects.get(pk=item["assignment"]).skip_reason == "unclear"
    assert _next(client).json()["item"]["assignment"] == second.assignments.get().pk


def test_edit_a_recent_judgment_through_the_api(project: Project, bob, charlie) -> None:
    make_comparison(project=project)
    client = _client(bob)
    item = _next(client).json()["item"]
    judgment_id = _submit(client, item).json()["judgment"]
    url = reverse("api:judgment-detail", args=["project-a", judgment_id])
    detail = client.get(url).json()
    assert (
        detail["judgment"]["editable"]
        and detail["item"]["candidates"][0]["id"] == item["candidates"][0]["id"]
    )
    tie = [[c["id"] for c in item["candidates"]]]
    assert (
        client.patch(
            url, {"ordering": tie, "flags": ["both_bad"]}, content_type="application/json"
        ).status_code
        == 200
    )
    assert Judgment.objects.get().ordering == tie
    assert _client(charlie).get(url).status_code == 404
    assert _client(charlie).patch(url, {"ordering": tie}, content_type="application/json").status_code == 403


def test_pages_render_for_members(project: Project, bob) -> None:
    project.guidelines = "# Be kind\n\n<script>alert(1)</script>"
    project.save()
    make_comparison(project=project)
    client = _client(bob)
    home = client.get(reverse("home"))
    assert home.status_code == 200 and b"left for me" in home.content
    assert reverse("annotate", args=["project-a"]).encode() in home.content
    assert client.get(reverse("annotate", args=["project-a"])).status_code == 200
    guidelines = client.get(reverse("guidelines", args=["project-a"]))
    assert b"<h1>Be kind</h1>" in guidelines.content and b"<script>alert" not in guidelines.content
    item = _next(client).json()["item"]
    judgment_id = _submit(client, item).json()["judgment"]
    history = client.get(reverse("history", args=["project-a"]))
    assert reverse("judgment-edit", args=["project-a", judgment_id]).encode() in history.content
    assert b'<td class="answer">A better</td>' in history.content
    assert client.get(reverse("judgment-edit", args=["project-a", judgment_id])).status_code == 200


def test_history_locks_judgments_after_the_window(project: Project, bob) -> None:
    make_comparison(project=project)
    client = _client(bob)
    judgment_id = _submit(client, _next(client).json()["item"]).json()["judgment"]
    Judgment.objects.update(created_at=timezone.now() - timedelta(hours=1))
    history = client.get(reverse("history", args=["project-a"]))
    assert reverse("judgment-edit", args=["project-a", judgment_id]).encode() not in history.content
    assert b"locked" in history.content


def test_next_item_queries_do_not_grow_with_candidates(project: Project, bob) -> None:
    ranking = ProjectFactory(slug="ranking", mode="ranking", candidates_per_comparison=4)
    MembershipFactory(project=ranking, user=bob)
    make_comparison(project=project, candidates=2)
    make_comparison(project=ranking, candidates=4)
    client = _client(bob)
    counts = []
    for slug, n in (("project-a", 2), ("ranking", 4)):
        with CaptureQueriesContext(connection) as queries:
            assert len(_next(client, slug).json()["item"]["candidates"]) == n
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 25


@pytest.mark.parametrize(
    ("mode", "ordering", "strength", "flags", "summary"),
    [
        ("pairwise", [[20], [10]], "much", [], "B better (much)"),
        ("pairwise", [[10, 20]], "", [], "tie"),
        ("pairwise", [[10, 20]], "", ["both_bad"], "both bad"),
        ("ranking", [[30], [10, 40], [20]], "", [], "3 > 1 = 4 > 2"),
    ],
)
def test_history_summarises_answers_in_the_labels_shown(
    mode: str, ordering: list, strength: str, flags: list, summary: str
) -> None:
    shown = [10, 20, 30, 40] if mode == "ranking" else [10, 20]
    judgment = Judgment(ordering=ordering, strength=strength, flags=flags, presented_order=shown)
    assert answer_summary(judgment=judgment, mode=mode) == summary


def test_home_links_the_pages_each_role_opens(project: Project, alice, bob) -> None:
    admin_home = _client(alice).get(reverse("home")).content
    annotator_home = _client(bob).get(reverse("home")).content
    for name in (
        "project-dashboard",
        "project-settings",
        "project-import",
        "project-export",
        "training:runs",
    ):
        url = reverse(name, args=["project-a"]).encode()
        assert url in admin_home and url not in annotator_home
    assert reverse("history", args=["project-a"]).encode() in annotator_home


def _database_gone(*args: object, **kwargs: object) -> None:
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


def test_api_answers_503_with_retry_after_when_the_database_is_gone(
    project: Project, bob, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_comparison(project=project)
    monkeypatch.setattr("annotation.api.annotating.comparison_lease", _database_gone)
    response = _next(_client(bob))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "cannot reach its database" in response.json()["error"]


def test_a_submission_whose_next_item_cannot_be_read_still_answers_with_its_judgment(
    project: Project, bob, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_comparison(project=project)
    client = _client(bob)
    item = _next(client).json()["item"]
    monkeypatch.setattr("annotation.api.annotating.comparison_lease", _database_gone)
    response = _submit(client, item, token="token-next-gone", next=True)
    assert response.status_code == 201 and response.json()["next"] is None
    assert Judgment.objects.filter(submission_token="token-next-gone").count() == 1


def test_pages_answer_a_plain_503_when_the_database_is_gone(
    project: Project, bob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("annotation.views.annotating.markdown_render", _database_gone)
    client = _client(bob)
    client.raise_request_exception = False
    response = client.get(reverse("guidelines", args=["project-a"]))
    assert response.status_code == 503 and response["Content-Type"].startswith("text/plain")
    assert b"cannot reach its database" in response.content


def test_next_and_submit_stay_within_their_query_budget(project: Project, bob) -> None:
    # Each cycle of an annotator runs these two doors: their statements are the hot path
    # (bench/annotation_load.py). Counted with the session and user reads of the test client.
    for _ in range(2):
        make_comparison(project=project)
    client = _client(bob)
    with CaptureQueriesContext(connection) as next_queries:
        item = _next(client).json()["item"]
    with CaptureQueriesContext(connection) as submit_queries:
        reply = _submit(client, item, next=True)
    with CaptureQueriesContext(connection) as last_queries:
        assert _submit(client, reply.json()["next"]["item"], token="token-door-2").status_code == 201
    # next: session, user, project and role, annotator lock, claim, lease insert, item, counts,
    # plus a savepoint and its release (the test's transaction); submit: session, user, project,
    # one read that locks the comparison and the lease, the four writes (judgment, lease, comparison
    # count, tally; one statement on PostgreSQL), and the savepoint pair. Submit with next runs both
    # but the session, user and project reads. Expired leases are marked by celery beat, not here.
    writes = 1 if connection.vendor == "postgresql" else 4
    assert len(next_queries) <= 10
    assert len(last_queries) <= 6 + writes
    assert len(submit_queries) <= 13 + writes
