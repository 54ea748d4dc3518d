"""The arena page in Chromium: the leaderboard and the win matrix follow judgments as they arrive."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotation.models import Judgment, Project
from tests.factories import UserFactory
from tests.training.test_arenas import _arena, held_out, versions  # noqa: F401 - the fixtures
from training.models import ArenaEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_arena_page_follows_the_judgments(
    browser_page,  # noqa: F811
    live_server,
    project: Project,
    versions,  # noqa: F811
    held_out,  # noqa: F811
    data_dir: Path,
    run_on_commit,
) -> None:
    arena = _arena(project, versions, held_out, run_on_commit)
    errors: list[str] = []
    page = browser_page
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/projects/{project.slug}/arenas/{arena.pk}/")
    expect(page.locator("#leaderboard-table")).to_contain_text("No judgment yet.")
    expect(page.locator("#arena-comparisons")).to_have_text("3")

    writer = dict(
        ArenaEntry.objects.filter(arena=arena).values_list("candidate_id", "job__model_version__name")
    )
    judge = UserFactory(username="judge")
    for comparison in arena.comparisons.all():
        ids = list(comparison.slots.values_list("candidate_id", flat=True))
        ids.sort(key=lambda c: writer[c] != "policy-v2")
        Judgment.objects.create(
            comparison=comparison,
            annotator=judge,
            ordering=[[ids[0]], [ids[1]]],
            submission_token=uuid.uuid4().hex,
        )
    first_row = page.locator("#leaderboard-table tbody tr").first
    expect(first_row).to_contain_text("policy-v2", timeout=15_000)
    # The page polls every 5 s and may have caught the second judgment before the third was written.
    expect(page.locator("#arena-battles")).to_have_text("3", timeout=15_000)
    expect(page.locator("#matrix-table tbody tr").first).to_contain_text("1.000 (3)", timeout=15_000)
    expect(page.locator("#contestant-table a").first).to_have_attribute(
        "href", f"/projects/{project.slug}/generations/{arena.generation_jobs.order_by('id').first().pk}/"
    )
    assert not errors
