"""The review page in real headless Chromium, by keyboard only: accept, override, send back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from annotation.models import Candidate, Comparison, Judgment, Membership, Project, Review
from tests.conftest import member
from tests.factories import MembershipFactory, UserFactory, make_comparison

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EVIL = '<img src=x onerror="window.pwned=1">'


@pytest.fixture
def disputed(transactional_db: None, settings) -> list[Comparison]:
    """Three comparisons on which bob and charlie disagree; dave reviews. One candidate's text and
    one judgment's rationale are HTML payloads."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = Project.objects.create(name="Project A", slug="project-a", overlap=2)
    MembershipFactory(project=project, user=UserFactory(username="dave"), role=Membership.Role.REVIEWER)
    # dave and erin have seen none of them: a send back for two can be met.
    member(project, "erin")
    bob, charlie = UserFactory(username="bob"), UserFactory(username="charlie")
    comparisons = []
    for _ in range(3):
        comparison = make_comparison(project=project)
        a, b = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        for user, ordering in ((bob, [[a], [b]]), (charlie, [[b], [a]])):
            Judgment.objects.create(
                comparison=comparison,
                annotator=user,
                ordering=ordering,
                rationale=EVIL,
                submission_token=uuid.uuid4().hex,
            )
        Comparison.objects.filter(pk=comparison.pk).update(judgment_count=2)
        comparisons.append(comparison)
    Candidate.objects.filter(pk=comparisons[0].slots.first().candidate_id).update(text=EVIL)
    return comparisons


def _shown(page, comparison: Comparison) -> None:
    page.wait_for_selector(f'#item[data-comparison="{comparison.pk}"]')


def test_review_by_keyboard_only(browser, live_server, disputed: list[Comparison]) -> None:
    first, second, third = disputed
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "dave")
    page.fill("#id_password", "password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/projects/project-a/review/")

    _shown(page, first)
    assert page.locator("#judgments-table tbody tr").count() == 2
    assert EVIL in page.locator("#judgments-table").inner_text()  # a rationale, shown as text
    assert page.locator("main img").count() == 0
    assert page.locator("#override-box").is_hidden() and page.locator("#send-back-box").is_hidden()
    page.keyboard.press("?")
    assert page.locator("#keymap").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#keymap").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)

    page.keyboard.press("a")  # accept the consensus
    _shown(page, second)
    assert "Recorded: accepted the consensus of comparison" in page.locator(".messages").inner_text()

    page.keyboard.press("o")  # override: B is better
    assert page.locator("#override-box").is_visible()
    page.keyboard.press("2")
    a, b = second.slots.order_by("position").values_list("candidate_id", flat=True)
    assert (page.input_value(f"#rank-{a}"), page.input_value(f"#rank-{b}")) == ("2", "1")
    page.keyboard.press("Enter")
    _shown(page, third)

    page.keyboard.press("s")  # send back for two more
    assert page.locator("#send-back-box").is_visible()
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    page.wait_for_selector("#empty")
    assert "0 to review" in page.locator("#queue-count").inner_text()

    reviews = {r.comparison_id: r for r in Review.objects.all()}
    assert (reviews[first.pk].decision, reviews[first.pk].reviewer.username) == ("accept", "dave")
    assert (reviews[second.pk].decision, reviews[second.pk].ordering) == ("override", [[b], [a]])
    assert (reviews[third.pk].decision, reviews[third.pk].extra_judgments) == ("send_back", 2)
    assert page.evaluate("window.pwned") is None
    assert errors == []
    context.close()
