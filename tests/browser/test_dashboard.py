"""The dashboard in real headless Chromium: charts drawn, the annotator table sorts, names stay text."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from annotation.models import Candidate, Judgment, Membership, Project
from tests.factories import MembershipFactory, UserFactory, make_comparison

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EVIL = '<img src=x onerror="window.pwned=1">'


@pytest.fixture
def judged_project(transactional_db: None, settings) -> Project:
    """Careful charlie and erin, left-clicking bob, and a model whose name is an HTML payload."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = Project.objects.create(name="Project A", slug="project-a", overlap=2)
    MembershipFactory(project=project, user=UserFactory(username="alice"), role=Membership.Role.ADMIN)
    users = {}
    for name in ("bob", "charlie", "erin"):
        users[name] = UserFactory(username=name)
        MembershipFactory(project=project, user=users[name])
    for i in range(12):
        comparison = make_comparison(project=project)
        good, bad = comparison.slots.values_list("candidate_id", flat=True)
        Candidate.objects.filter(pk=bad).update(model_name=EVIL)
        comparison.gold_ordering = [[good], [bad]]
        comparison.save()
        shown = [good, bad] if i % 2 else [bad, good]
        for name, tiers in (
            ("charlie", [[good], [bad]]),
            ("erin", [[good], [bad]]),
            ("bob", [[shown[0]], [shown[1]]]),
        ):
            Judgment.objects.create(
                comparison=comparison,
                annotator=users[name],
                ordering=tiers,
                presented_order=shown,
                time_spent_ms=4000,
                submission_token=uuid.uuid4().hex,
            )
    return project


def test_dashboard_draws_charts_and_sorts_annotators(browser, live_server, judged_project: Project) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda r: (
            r.status >= 400 and not r.url.endswith("/favicon.ico") and errors.append(f"{r.status} {r.url}")
        ),
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/projects/project-a/dashboard/")

    page.wait_for_selector("#timeline-chart .uplot canvas")
    for chart in ("#bias-chart", "#leaderboard-chart"):
        page.wait_for_selector(f"{chart} svg")
    assert page.locator("#bias-chart svg rect").count() == 4  # three annotators and the project
    assert page.locator("#leaderboard-chart svg circle").count() == 2
    assert page.locator("#annotator-table tr.flagged td").first.inner_text() == "bob"

    names = "#annotator-table tbody tr td:first-child"
    page.get_by_role("button", name="Bias p").click()
    assert page.locator(names).all_inner_texts()[0] == "bob"
    page.get_by_role("button", name="Bias p").click()
    assert page.locator(names).all_inner_texts()[-1] == "bob"
    page.get_by_role("button", name="Annotator").click()
    assert page.locator(names).all_inner_texts() == ["bob", "charlie", "erin"]
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Annotator")

    # The model name is shown as text in the table and the chart, never parsed as HTML.
    assert EVIL in page.locator("#leaderboard-table").inner_text()
    assert page.locator("#leaderboard-chart svg text", has_text="onerror").count() == 1
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    context.close()
