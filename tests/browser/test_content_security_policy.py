"""Every page under the Content-Security-Policy header in Chromium: none breaks a rule, and each still
works (its own module runs: charts drawn, forms kept in step, a judgment made by keyboard)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from annotation.models import Comparison, Judgment, Membership, Project
from tests.browser.conftest import wait_for_script
from tests.factories import MembershipFactory, UserFactory, make_comparison
from tests.training.conftest import judged_project
from training.models import Run, RunMetric
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = pytest.mark.django_db(transaction=True)

# Installed before any of the page's own scripts: CSP does not apply to what Playwright injects.
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def project(transactional_db: None, settings, data_dir) -> Project:
    """Alice (superuser, admin of project A) has comparisons to judge, two disputed ones to review, and a
    run with a loss curve."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = Project.objects.create(name="Project A", slug="project-a", overlap=2)
    alice = UserFactory(username="alice", is_staff=True, is_superuser=True)
    MembershipFactory(project=project, user=alice, role=Membership.Role.ADMIN)
    bob, charlie = UserFactory(username="bob"), UserFactory(username="charlie")
    for _ in range(2):
        comparison = make_comparison(project=project)
        a, b = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        for user, ordering in ((bob, [[a], [b]]), (charlie, [[b], [a]])):
            Judgment.objects.create(
                comparison=comparison, annotator=user, ordering=ordering, submission_token=uuid.uuid4().hex
            )
        Comparison.objects.filter(pk=comparison.pk).update(judgment_count=2)
    judged_project(project, comparisons=4)
    snapshot = snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.25))
    run = Run.objects.create(
        project=project, method="reward", base_model="tiny", snapshot=snapshot, status=Run.Status.SUCCEEDED
    )
    RunMetric.objects.bulk_create(
        RunMetric(run=run, step=step, data={"step": step, "loss": 1 / step}) for step in (1, 2, 3)
    )
    return project


@pytest.fixture
def page(browser, live_server, project: Project) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.console = console
    yield page
    context.close()


def _violations(page) -> list[str]:
    """What the page's listener and its console reported since it was loaded."""
    reported = page.evaluate("window.__violations")
    return reported + [text for text in page.console if "Content Security Policy" in text]


def _visit(page, url: str, ready: str, expected: str = "") -> None:
    """Opens `url` under the policy, waits for `ready` (drawn by the page's own module), checks the
    header was there and that nothing was blocked (but what mentions `expected`, if given)."""
    page.console.clear()
    response = page.goto(url)
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_selector(ready, state="attached")
    assert [v for v in _violations(page) if not (expected and expected in v)] == [], url


def test_pages_work_under_the_policy_and_break_none_of_its_rules(page, live_server, project) -> None:
    base = live_server.url
    _visit(page, f"{base}/login/", "#id_username")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{base}/")
    assert _violations(page) == []

    _visit(page, f"{base}/", "a[href='/projects/project-a/annotate/']")

    _visit(page, f"{base}/projects/project-a/annotate/", "#candidates .candidate")
    page.keyboard.press("1")  # A is better
    page.keyboard.press("Enter")
    wait_for_script(page, "document.getElementById('progress-text').textContent.startsWith('1 today')")
    assert Judgment.objects.filter(annotator__username="alice").count() == 1
    assert _violations(page) == []

    _visit(page, f"{base}/projects/project-a/dashboard/", "#timeline-chart .uplot canvas")
    _visit(page, f"{base}/projects/project-a/review/", "#item[data-comparison]")
    run = Run.objects.get()
    _visit(page, f"{base}/projects/project-a/runs/{run.pk}/", "#chart-loss .uplot canvas")

    _visit(page, f"{base}/projects/project-a/export/", "#export-command")
    page.select_option("#kind", "unpaired")
    assert "--kind unpaired" in page.locator("#export-command").inner_text()

    _visit(page, f"{base}/projects/project-a/settings/", "#id_mode")
    # A project with comparisons has its mode fixed; a new one's form keeps the size in step.
    _visit(page, f"{base}/projects/new/", "#id_mode")
    page.select_option("#id_mode", "ranking")
    assert page.locator("#id_candidates_per_comparison").input_value() == "3"

    _visit(page, f"{base}/admin/", "#content")
    _visit(page, f"{base}/api/docs/", "#swagger-ui .information-container")
    # Redoc's "API docs by Redocly" logo comes from its CDN: blocked, and rightly so.
    _visit(page, f"{base}/api/redoc/", "redoc .api-content h1", expected="https://cdn.redoc.ly/")
