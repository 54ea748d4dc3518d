"""Charts in real headless Chromium: on the run page uPlot draws each metric with axes and tick labels,
its legend shows the values under the cursor, and new steps reach the chart while the run goes on; the
quality dashboard's timeline shows a day's judgments under the cursor."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.test import Client

from annotation.models import Judgment, Project
from tests.browser.conftest import wait_for_script
from tests.conftest import member
from tests.factories import RunFactory, SnapshotFactory, make_comparison
from training.models import DatasetSnapshot, Run, RunMetric

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# uPlot's tick marks are 10 px long: what is painted further from the plot is the tick labels.
TICK_LENGTH = 10


@pytest.fixture
def snapshot(project: Project) -> DatasetSnapshot:
    """A run's snapshot as a bare row: the run page shows only its name, and the charts need no files."""
    snapshot = SnapshotFactory(name="s", status=DatasetSnapshot.Status.READY)
    snapshot.projects.add(project)
    return snapshot


@pytest.fixture
def page(browser, live_server, alice) -> Iterator[Page]:
    client = Client()
    client.force_login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def axis_ink(page: Page, figure: str) -> dict[str, int]:
    """Painted pixels of the chart's canvas beyond the tick marks left of the plot (the y axis's tick
    labels) and below it (the x axis's)."""
    return page.locator(f"{figure} canvas").evaluate(
        """(canvas, tick) => {
          const over = canvas.closest(".u-wrap").querySelector(".u-over");
          const ratio = canvas.width / canvas.clientWidth;
          const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
          const left = (over.offsetLeft - tick - 1) * ratio;
          const bottom = (over.offsetTop + over.offsetHeight + tick + 1) * ratio;
          const ink = { y: 0, x: 0 };
          for (let y = 0; y < canvas.height; y++) {
            for (let x = 0; x < canvas.width; x++) {
              if (pixels[(y * canvas.width + x) * 4 + 3] === 0) continue;
              if (x < left && y < bottom) ink.y++;
              else if (y >= bottom && x >= left) ink.x++;
            }
          }
          return ink;
        }""",
        TICK_LENGTH,
    )


def legend_values(page: Page, figure: str) -> list[str]:
    """The legend's values, the step first, then one per series."""
    return page.locator(f"{figure} .u-legend .u-series .u-value").all_inner_texts()


def hover(page: Page, figure: str, fraction: float) -> None:
    """Moves the mouse over the plot, `fraction` of the way from its left edge, halfway down."""
    box = page.locator(f"{figure} .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)


def test_run_chart_has_axes_and_shows_hovered_values_in_its_legend(
    page: Page, live_server, project: Project, snapshot: DatasetSnapshot
) -> None:
    run = RunFactory(
        project=project, method="reward", base_model="tiny", snapshot=snapshot,
        status=Run.Status.RUNNING, step=3, total_steps=6,
    )  # fmt: skip
    RunMetric.objects.bulk_create(
        [RunMetric(run=run, step=step, data={"loss": loss}) for step, loss in ((1, 0.9), (2, 0.8), (3, 0.7))]
        + [RunMetric(run=run, step=2, kind=RunMetric.Kind.EVAL, data={"eval_loss": 0.85})]
    )
    page.goto(f"{live_server.url}/projects/{project.slug}/runs/{run.pk}/")
    loss = "#chart-loss"
    page.locator(f"{loss} .uplot canvas").wait_for()
    assert page.locator(f"{loss} figcaption").inner_text() == "loss"
    assert page.locator(f"{loss} .u-axis").count() == 2
    ink = axis_ink(page, loss)
    assert ink["y"] > 50 and ink["x"] > 50, ink  # a label's digits paint a few dozen pixels
    labels = page.locator(f"{loss} .u-legend .u-series .u-label").all_inner_texts()
    assert labels == ["step", "train", "eval"]
    assert legend_values(page, loss) == ["—", "—", "—"]  # nothing under the cursor yet

    hover(page, loss, 0.5)  # steps 1 to 3: the middle is step 2, with its eval
    wait_for_script(
        page, "f => document.querySelector(`${f} .u-legend .u-value`).textContent === '2'", arg=loss
    )
    assert legend_values(page, loss) == ["2", "0.8", "0.85"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run-charts.png"), full_page=True)

    # Polling brings step 4 into the same chart: the plot's right edge is now step 4. The page draws the
    # charts in the same task as it shows the step, so the chart is up to date once the step shows.
    RunMetric.objects.create(run=run, step=4, data={"loss": 0.5})
    Run.objects.filter(pk=run.pk).update(step=4)
    wait_for_script(page, "document.getElementById('run-step').textContent === '4'")
    hover(page, loss, 0.99)
    wait_for_script(
        page, "f => document.querySelector(`${f} .u-legend .u-value`).textContent === '4'", arg=loss
    )
    assert legend_values(page, loss) == ["4", "0.5", "—"]


def test_quality_timeline_shows_a_days_judgments_under_the_cursor(
    page: Page, live_server, project: Project
) -> None:
    bob = member(project, "bob")
    for day in (1, 1, 3):  # two judgments on 1 March, none on the 2nd, one on the 3rd
        comparison = make_comparison(project=project)
        first, second = comparison.slots.values_list("candidate_id", flat=True)
        token = uuid.uuid4().hex
        judgment = Judgment.objects.create(
            comparison=comparison, annotator=bob, ordering=[[first], [second]], submission_token=token
        )
        created = dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC)
        Judgment.objects.filter(pk=judgment.pk).update(created_at=created)
    page.goto(f"{live_server.url}/projects/{project.slug}/dashboard/")
    timeline = "#timeline-chart"
    page.locator(f"{timeline} .uplot canvas").wait_for()
    assert page.locator(f"{timeline} .u-axis").count() == 3  # days, judgments per day, in all
    assert legend_values(page, timeline) == ["—", "—", "—"]

    # The plot runs from half a day before 1 March to half a day after the 3rd: the 3rd is at 5/6.
    hover(page, timeline, 5 / 6)
    wait_for_script(
        page, "f => document.querySelector(`${f} .u-legend .u-value`).textContent !== '—'", arg=timeline
    )
    assert legend_values(page, timeline) == ["2026-03-03", "1", "3"]
    hover(page, timeline, 1 / 2)
    wait_for_script(
        page,
        "f => document.querySelector(`${f} .u-legend .u-value`).textContent === '2026-03-02'",
        arg=timeline,
    )
    assert legend_values(page, timeline) == ["2026-03-02", "0", "2"]
