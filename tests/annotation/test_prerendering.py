"""Texts rendered once and stored: the background pass, the import that queues it, and the pages that
show the stored HTML instead of rendering again."""

from __future__ import annotations

import io
import json
import threading

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Candidate, Membership, Prompt
from annotation.rendering import markdown_render, messages_render
from annotation.services import prerendering
from annotation.services.importing import data_import
from annotation.services.prerendering import texts_prerender
from tests.conftest import member
from tests.factories import ProjectFactory, UserFactory, make_comparison
from tests.waiting import wait_until

ROWS = [
    {
        "prompt": f"Question {i}: *why*?",
        "candidates": [{"text": f"Because `{i}`.\n\n- one\n- two"}, {"text": f"```python\nprint({i})\n```"}],
    }
    for i in range(3)
]


def _jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _assert_all_rendered() -> None:
    for prompt in Prompt.objects.all():
        assert prompt.messages_html == messages_render(prompt.messages)
    for candidate in Candidate.objects.all():
        assert candidate.html == markdown_render(candidate.text)


@pytest.mark.django_db
def test_the_pass_stores_what_the_renderer_writes_and_leaves_nothing_behind() -> None:
    project = ProjectFactory()
    data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    assert not Candidate.objects.filter(html__isnull=False).exists()
    assert texts_prerender() == 3 + 6
    _assert_all_rendered()
    assert '<pre class="highlight">' in Candidate.objects.filter(text__startswith="```").first().html
    assert texts_prerender() == 0


@pytest.mark.django_db
def test_the_pass_stops_at_its_limit_and_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerendering, "BATCH", 2)
    project = ProjectFactory()
    data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    assert texts_prerender(budget_seconds=0) == 0
    assert texts_prerender(limit=5) == 5
    assert (
        Prompt.objects.filter(messages_html__isnull=True).count()
        + Candidate.objects.filter(html__isnull=True).count()
        == 9 - 5
    )
    assert texts_prerender() == 4
    _assert_all_rendered()


@pytest.mark.django_db
def test_an_import_renders_its_texts_once_it_commits(run_on_commit) -> None:
    project = ProjectFactory()
    with run_on_commit():
        data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    _assert_all_rendered()


@pytest.mark.django_db
def test_the_annotate_page_shows_the_stored_html_and_renders_what_has_none() -> None:
    project = ProjectFactory(overlap=1)
    annotator = member(project, "bob")
    comparison = make_comparison(project=project)
    first, second = comparison.candidates.order_by("slots__position")
    # Stored HTML that the renderer would never write proves the page reads it.
    Candidate.objects.filter(pk=first.pk).update(html="<p>stored first</p>")
    Prompt.objects.filter(pk=comparison.prompt_id).update(messages_html=["<p>stored prompt</p>"])
    api = APIClient()
    api.force_authenticate(annotator)
    item = api.post(reverse("api:item-next", args=[project.slug]), {}, format="json").json()["item"]
    assert [m["html"] for m in item["messages"]] == ["<p>stored prompt</p>"]
    html = {c["id"]: c["html"] for c in item["candidates"]}
    assert html == {first.pk: "<p>stored first</p>", second.pk: markdown_render(second.text)}


@pytest.mark.django_db
def test_the_review_page_shows_the_stored_html(client) -> None:
    project = ProjectFactory()
    reviewer = member(project, "dave", Membership.Role.REVIEWER)
    comparison = make_comparison(project=project)
    Candidate.objects.filter(pk=comparison.candidates.first().pk).update(html="<p>stored answer</p>")
    client.force_login(reviewer)
    page = client.get(reverse("review", args=[project.slug]), {"comparison": comparison.pk})
    assert page.status_code == 200
    assert "<p>stored answer</p>" in page.content.decode()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_runs_at_the_same_time_share_the_rows_instead_of_waiting_for_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run holds its batch; another renders the rest without waiting for it (SKIP LOCKED)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    monkeypatch.setattr(prerendering, "BATCH", 2)
    project = ProjectFactory()
    data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    held = list(Candidate.objects.order_by("pk").values_list("pk", flat=True)[:2])
    locked, finished = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                list(Candidate.objects.select_for_update().filter(pk__in=held))
                locked.set()
                finished.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(30)
        with connection.cursor() as cursor:
            # Waiting for the held rows would fail here instead of hanging the test.
            cursor.execute("SET lock_timeout = '5s'")
        texts_prerender()
        assert set(Candidate.objects.filter(html__isnull=True).values_list("pk", flat=True)) == set(held)
    finally:
        finished.set()
        thread.join()
    assert texts_prerender() == 2
    _assert_all_rendered()


@pytest.mark.integration
def test_the_worker_renders_an_import(celery_worker_process, transactional_db: None) -> None:
    project = ProjectFactory()
    data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    wait_until(
        lambda: not Candidate.objects.filter(html__isnull=True).exists(),
        what="the worker to render the import",
    )
    _assert_all_rendered()


@pytest.mark.django_db
def test_editing_a_text_in_the_admin_drops_its_stored_html(client) -> None:
    comparison = make_comparison()
    candidate = comparison.candidates.first()
    Candidate.objects.filter(pk=candidate.pk).update(html="<p>old</p>")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("admin:annotation_candidate_change", args=[candidate.pk])
    form = client.get(url).content.decode()
    assert 'name="html"' not in form and "&lt;p&gt;old&lt;/p&gt;" in form
    fields = {
        "prompt": candidate.prompt_id,
        "text": candidate.text,
        "model_name": candidate.model_name,
        "generation_params": "{}",
        "content_hash": candidate.content_hash,
        "round": 0,
    }
    assert client.post(url, fields).status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).html == "<p>old</p>"
    assert client.post(url, {**fields, "text": "A new answer."}).status_code == 302
    assert Candidate.objects.get(pk=candidate.pk).html is None
    assert texts_prerender() >= 1
    assert Candidate.objects.get(pk=candidate.pk).html == markdown_render("A new answer.")


@pytest.mark.django_db(transaction=True)
def test_an_import_stands_when_the_broker_cannot_take_the_rendering(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from annotation import tasks

    def refused(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.texts_prerender, "apply_async", refused)
    project = ProjectFactory()
    batch = data_import(project=project, file=io.BytesIO(_jsonl(ROWS)), file_name="a.jsonl")
    assert batch.prompts_created == 3 and Candidate.objects.count() == 6
    assert "broker down" in caplog.text
    assert texts_prerender() == 9
