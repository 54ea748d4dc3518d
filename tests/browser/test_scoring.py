"""The scores page in Chromium: it follows a running scoring job, and once the job is finished reloads
to show the reward model beside the judgments, largest disagreement first."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotation.models import Project
from tests.factories import ScoringJobFactory, make_comparison
from tests.training.test_scoring import judge, reward_version, score
from training.models import ScoringJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_scores_page_follows_the_job_then_shows_the_new_scores(
    browser_page,  # noqa: F811
    live_server,
    project: Project,
    data_dir: Path,
) -> None:
    version = reward_version(project, name="rm-v1")
    comparison = make_comparison(project=project)
    job = ScoringJobFactory(project=project, model_version=version, candidates_total=2, status="running")
    page = browser_page
    page.goto(f"{live_server.url}/projects/{project.slug}/scores/")
    row = page.locator("tr.scoring-job")
    expect(row.locator(".job-status")).to_have_text("running")
    expect(page.locator("#score-table")).to_contain_text("No judged comparison")

    ScoringJob.objects.filter(pk=job.pk).update(candidates_scored=1, candidates_failed=1)
    expect(row.locator(".job-scored")).to_have_text("1")
    expect(row.locator(".job-failed")).to_have_text("1")

    first, second = score(version, comparison, 1.25, -0.5)
    judge(comparison, [[second], [first]])
    ScoringJob.objects.filter(pk=job.pk).update(candidates_scored=2, candidates_failed=0, status="succeeded")
    expect(page.locator("#agreement-rate")).to_have_text("0%")  # after the reload
    expect(page.locator("#score-table tbody tr.disagrees")).to_contain_text("-1.750")
    expect(page.locator("tr.scoring-job .cancel-form")).to_have_count(0)
