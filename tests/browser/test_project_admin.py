"""Project admin pages in real headless Chromium: settings with the mode script, members, and
importing a file (counts, error table, the upload-size check); screenshots go to test-artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotation.models import Membership, Project, Prompt
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
GOOD = "".join(
    json.dumps(row) + "\n"
    for row in [
        {"prompt": "What is 2+2?", "candidates": [{"text": "4"}, {"text": "5"}, {"text": "22"}]},
        {"prompt": "Capital of Peru?", "candidates": [{"text": "Lima"}, {"text": "Cusco"}]},
    ]
).encode()
BAD = GOOD + b'{"prompt": "x", "candidates": [{"text": "only one"}]}\n'


@pytest.fixture
def admin_page(browser, live_server) -> Iterator:
    project = ProjectFactory(name="Chat", slug="chat")
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role=Membership.Role.ADMIN)
    UserFactory(username="dave")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_admin_edits_settings_and_members(admin_page, live_server) -> None:
    page = admin_page
    page.click("text=Manage projects")
    page.click("text=Settings and members")
    page.select_option("#id_mode", "ranking")
    # Kept in step by the page script, which may run a moment after the page is usable: wait for it.
    expect(page.locator("#id_candidates_per_comparison")).to_have_value("3")
    page.fill("#id_overlap", "3")
    page.fill("#id_rating_criteria", "helpfulness, honesty")
    page.click("button:has-text('Save settings')")
    page.wait_for_selector("text=Settings saved.")
    project = Project.objects.get(slug="chat")
    assert (project.mode, project.candidates_per_comparison, project.overlap) == ("ranking", 3, 3)
    assert project.rating_criteria == ["helpfulness", "honesty"]

    page.fill("#id_username", "dave")
    page.select_option("#id_role", "reviewer")
    page.click("button:has-text('Save member')")
    page.wait_for_selector("text=dave is now reviewer.")
    _shot(page, "project-settings")
    assert project.memberships.get(user__username="dave").role == "reviewer"


def test_admin_imports_a_file_and_sees_errors_for_a_bad_one(
    admin_page, live_server, tmp_path, settings
) -> None:
    page = admin_page
    page.goto(f"{live_server.url}/projects/chat/import/")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(BAD)
    page.set_input_files("#id_file", str(bad))
    page.click("button:has-text('Import')")
    page.wait_for_selector("#import-errors")
    assert "expected at least 2 candidates, got 1" in page.inner_text("#import-errors")
    _shot(page, "project-import-errors")
    assert not Prompt.objects.exists()

    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD)
    page.set_input_files("#id_file", str(good))
    page.click("button:has-text('Import')")
    page.wait_for_selector("#import-result")
    assert "2 prompts, 5 candidates" in " ".join(page.inner_text("#import-result").split())
    _shot(page, "project-import-done")

    settings.RANKWISE_MAX_UPLOAD_BYTES = 50
    page.goto(f"{live_server.url}/projects/chat/import/")
    page.set_input_files("#id_file", str(good))
    page.click("button:has-text('Import')")
    page.wait_for_selector("#import-progress:has-text('the limit is 50')")
