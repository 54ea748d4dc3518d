"""Training pages in Chromium: live curves and status on the run page, defaults and preview on the
launch form, overlaid runs on the compare view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation.models import Project
from tests.browser.conftest import wait_for_script
from tests.factories import ModelVersionFactory, RunFactory
from tests.training.conftest import judged_project
from training.models import DatasetSnapshot, Run, RunMetric
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def snapshot(project: Project, data_dir: Path) -> DatasetSnapshot:
    judged_project(project, comparisons=6)
    return snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.3))


def make_run(project: Project, snapshot: DatasetSnapshot, losses: list[float], **fields: object) -> Run:
    run = RunFactory(project=project, method="reward", base_model="tiny", snapshot=snapshot, **fields)
    RunMetric.objects.bulk_create(
        RunMetric(run=run, step=step, data={"step": step, "loss": loss, "rewards/accuracies": 0.5})
        for step, loss in enumerate(losses, start=1)
    )
    return run


def test_run_page_draws_curves_and_follows_the_run(
    browser_page, live_server, project, snapshot, data_dir
) -> None:
    run = make_run(project, snapshot, [0.9, 0.8, 0.7], status=Run.Status.RUNNING, step=3, total_steps=6)
    page = browser_page
    page.goto(f"{live_server.url}/projects/{project.slug}/runs/{run.pk}/")
    page.wait_for_selector("#chart-loss .uplot canvas")
    assert page.locator("#chart-rewards-accuracies .uplot").count() == 1
    assert page.locator("#cancel-form").is_visible() and not page.locator("#retry-form").is_visible()

    RunMetric.objects.create(run=run, step=4, data={"step": 4, "loss": 0.5})
    output = data_dir / "runs" / "browser"
    output.mkdir(parents=True)
    conversation = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hey."},
                    {"role": "user", "content": "And now?"}]  # fmt: skip
    result = {"seconds": 2.5, "peak_memory_mb": 321.0, "final_metrics": {"loss": 0.5},
              "samples": [{"prompt": "Hi?", "before": "noise", "after": "Hello!"},
                          {"prompt": conversation, "before": "x", "after": "Now."}]}  # fmt: skip
    (output / "result.json").write_text(json.dumps(result))
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.FAILED, step=4, error="boom", output_dir=str(output)
    )
    wait_for_script(page, "document.getElementById('run-status').textContent === 'failed'")
    assert page.locator("#run-step").inner_text() == "4"
    assert page.locator("#retry-form").is_visible() and not page.locator("#cancel-form").is_visible()
    assert "boom" in page.locator("#run-error").inner_text()
    assert "peak memory 321 MB" in page.locator("#result-summary").inner_text()
    assert "Hello!" in page.locator("#result-samples").inner_text()
    # A conversation's sample shows its last turn.
    assert page.locator("#result-samples tbody tr").nth(1).locator("td").first.inner_text() == "And now?"


def test_launch_form_prefills_defaults_and_previews_the_spec(
    browser_page, live_server, project, snapshot
) -> None:
    page = browser_page
    page.goto(f"{live_server.url}/projects/{project.slug}/runs/new/")
    assert page.locator("#method").input_value() == "reward"  # trains on any preference snapshot
    # Right away, while the first method's defaults may still be loading: the newest request wins.
    page.select_option("#method", "dpo")
    wait_for_script(page, "document.getElementById('hyperparameters').value.includes('beta')")
    assert not page.locator("#reward_version").is_visible()
    page.click("#preview-button")
    page.wait_for_selector("#preview-command:not(:empty)")
    assert "-m training.engine run" in page.locator("#preview-command").inner_text()
    assert '"method": "dpo"' in page.locator("#preview-spec").inner_text()
    assert not Run.objects.exists()

    version = ModelVersionFactory(name="earlier", path="/m", method="sft", base="b")
    page.reload()
    page.select_option("#base_version", str(version.pk))
    assert page.locator("#base_model").is_disabled()
    page.select_option("#base_version", "")
    assert page.locator("#base_model").is_enabled()

    page.select_option("#method", "ppo")
    assert page.locator("#reward_version").is_visible()
    page.click("#preview-button")
    page.wait_for_selector("#preview-error:not([hidden])")
    assert "reward_version" in page.locator("#preview-error").inner_text()


def test_compare_overlays_runs(browser_page, live_server, project, snapshot) -> None:
    one = make_run(project, snapshot, [0.9, 0.7], status=Run.Status.SUCCEEDED)
    two = make_run(project, snapshot, [0.8, 0.4, 0.3], status=Run.Status.SUCCEEDED)
    page = browser_page
    page.goto(f"{live_server.url}/projects/{project.slug}/runs/compare/?run={one.pk}&run={two.pk}")
    page.wait_for_selector("#chart-loss .uplot canvas")
    labels = page.locator("#chart-loss .u-legend .u-label").all_inner_texts()
    assert labels == ["step", f"{one.pk}: reward", f"{two.pk}: reward"]
    summary = page.locator("#compare-summary").inner_text()
    assert "0.7000" in summary and "0.3000" in summary
