"""The annotate page's word diff in real headless Chromium: the first candidate marks the words the
second removed, the second the words it inserted, and each card still reads as its own text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

from annotation.models import Candidate
from tests.conftest import member
from tests.factories import ProjectFactory, make_comparison

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

BROWN = "The quick brown fox\njumps over the dog."
RED = "The quick red fox\njumps over the lazy dog."


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    project = ProjectFactory(slug="diff")
    comparison = make_comparison(project=project)
    slots = comparison.slots.values_list("candidate_id", flat=True)
    for candidate_id, text in zip(slots, [BROWN, RED], strict=True):
        Candidate.objects.filter(pk=candidate_id).update(text=text)
    client = Client()
    client.force_login(member(project, "bob"))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/projects/diff/annotate/")
    yield page
    context.close()
    assert errors == []


def marked(card: Locator, change: str) -> list[str]:
    return [text.strip() for text in card.locator(f".body mark.{change}").all_inner_texts()]


def test_word_diff_marks_removed_and_inserted_words(page: Page) -> None:
    cards = page.locator("#candidates .candidate")
    cards.nth(1).wait_for()
    first, second = cards.nth(0), cards.nth(1)
    # The page may show the two candidates in either order; the first shown is the reference.
    brown_first = "brown" in first.locator(".body").inner_text()
    assert page.locator("#diff-legend").is_hidden()

    page.keyboard.press("d")
    first.locator(".body.diff-text").wait_for()
    if brown_first:
        assert marked(first, "diff-removed") == ["brown"]
        assert marked(second, "diff-inserted") == ["red", "lazy"]
    else:
        assert marked(first, "diff-removed") == ["red", "lazy"]
        assert marked(second, "diff-inserted") == ["brown"]
    assert first.locator("mark.diff-inserted").count() == second.locator("mark.diff-removed").count() == 0
    # Each card shows its own text, line breaks included, with no word of the other one.
    texts = [first.locator(".body").inner_text(), second.locator(".body").inner_text()]
    assert texts == ([BROWN, RED] if brown_first else [RED, BROWN])
    legend = page.locator("#diff-legend").inner_text()
    assert "in A, not in B" in legend and "not in A" in legend
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "word-diff.png"))

    page.keyboard.press("d")  # back to the rendered markdown
    first.locator(".body.markdown").wait_for()
    assert page.locator("#candidates mark").count() == 0
    assert page.locator("#diff-legend").is_hidden()
