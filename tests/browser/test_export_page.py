"""The export page in Chromium: options follow the kind, the command is shown, the download works."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client

from annotation.models import Judgment, Project
from tests.factories import make_comparison

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(browser, live_server, project: Project, alice) -> Iterator:
    comparison = make_comparison(project=project)
    order = list(comparison.slots.values_list("candidate_id", flat=True))
    Judgment.objects.create(
        comparison=comparison,
        annotator=alice,
        ordering=[[c] for c in order],
        submission_token=uuid.uuid4().hex,
    )
    client = Client()
    client.force_login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(accept_downloads=True)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/projects/project-a/export/")
    yield page
    context.close()


def test_export_page_shows_options_for_the_kind_and_downloads(page) -> None:
    command = page.locator("#export-command")
    assert command.inner_text().startswith(
        "python manage.py export_data project-a project-a-preference.jsonl"
    )
    assert page.locator("#ties").is_visible() and not page.locator("#rating_threshold").is_visible()

    page.select_option("#kind", "unpaired")
    page.fill("#rating_threshold", "3.5")
    assert page.locator("#rating_threshold").is_visible() and not page.locator("#ties").is_visible()
    assert "--kind unpaired" in command.inner_text() and "--rating-threshold 3.5" in command.inner_text()

    page.select_option("#kind", "preference")
    page.select_option("#ties", "keep")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "project-a-preference.jsonl"
    [row] = [json.loads(line) for line in open(download.value.path(), encoding="utf-8")]
    assert row["metadata"] == {"tie": False} and set(row) >= {"prompt", "chosen", "rejected"}
