"""The generation job page in Chromium: it follows a running job's progress, counts and per-prompt
errors, and hides Cancel once the job is finished."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotation.models import Project
from tests.factories import GenerationJobFactory
from training.models import GenerationJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_page_follows_the_job(browser_page, live_server, project: Project, data_dir: Path) -> None:  # noqa: F811
    job = GenerationJobFactory(
        project=project, source="base", base_model="tiny", k=2, prompts_total=4, status="running"
    )
    page = browser_page
    page.goto(f"{live_server.url}/projects/{project.slug}/generations/")
    expect(page.locator("#generation-table")).to_contain_text("Running")
    page.goto(f"{live_server.url}/projects/{project.slug}/generations/{job.pk}/")
    expect(page.locator("#job-status")).to_have_text("running")
    expect(page.locator("#cancel-form")).to_be_visible()

    GenerationJob.objects.filter(pk=job.pk).update(
        prompts_done=3,
        candidates_created=4,
        comparisons_created=2,
        prompt_errors=[{"prompt_id": 17, "error": "ValueError: <b>bad</b> messages"}],
    )
    expect(page.locator("#job-done")).to_have_text("3")
    expect(page.locator("#job-candidates")).to_have_text("4")
    expect(page.locator("#prompt-errors")).to_contain_text("ValueError: <b>bad</b> messages")

    GenerationJob.objects.filter(pk=job.pk).update(prompts_done=4, status="succeeded")
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#cancel-form")).to_be_hidden()
    assert page.locator("#job-progress").evaluate("el => el.value") == 1
