"""Training pages and API: permissions, status codes and wiring."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Project
from tests.factories import ModelVersionFactory, RunFactory, UserFactory
from tests.training.conftest import judged_project
from training.jobs.runs import artifacts_register
from training.models import DatasetSnapshot, Run, RunMetric
from training.services.snapshots import SnapshotSpec, snapshot_build, snapshot_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot(project: Project, data_dir: Path) -> DatasetSnapshot:
    judged_project(project, comparisons=10)
    return snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.3))


@pytest.fixture
def run(project: Project, snapshot: DatasetSnapshot, data_dir: Path) -> Run:
    output = data_dir / "runs" / "1"
    (output / "final").mkdir(parents=True)
    (output / "run.log").write_text("line one\nline two\n")
    (output / "model_card.md").write_text("# Model card\n")
    (output / "final" / "adapter.bin").write_bytes(b"weights")
    run = RunFactory(
        project=project,
        method="reward",
        base_model="tiny",
        snapshot=snapshot,
        output_dir=str(output),
        status=Run.Status.SUCCEEDED,
        step=2,
        total_steps=2,
    )
    RunMetric.objects.bulk_create(
        [
            RunMetric(run=run, step=1, data={"step": 1, "loss": 0.7}),
            RunMetric(run=run, step=2, data={"step": 2, "loss": 0.6}),
            RunMetric(run=run, step=2, kind="eval", data={"step": 2, "eval_loss": 0.65}),
        ]
    )
    artifacts_register(run=run)
    return run


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = ["training:snapshots", "training:runs", "training:run-launch", "training:run-compare"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_are_for_project_admins(name: str, project: Project, alice, bob, dave, mallory) -> None:
    url = reverse(name, args=[project.slug])
    assert client_for(alice).get(url).status_code == 200
    assert client_for(dave).get(url).status_code == 403
    assert client_for(bob).get(url).status_code == 403
    assert client_for(mallory).get(url).status_code == 404
    assert Client().get(url).status_code == 302


def test_run_page_shows_state_log_artifacts_and_card(project: Project, alice, run: Run, mallory) -> None:
    url = reverse("training:run-detail", args=[project.slug, run.pk])
    page = client_for(alice).get(url).content.decode()
    assert "line two" in page and "# Model card" in page and "final/adapter.bin" in page
    assert 'src="/static/js/run.js"' in page
    assert client_for(mallory).get(url).status_code == 404


def test_snapshot_form_queues_a_snapshot_and_reports_errors(
    project: Project, alice, data_dir: Path, django_capture_on_commit_callbacks
) -> None:
    judged_project(project, comparisons=4)
    client = client_for(alice)
    url = reverse("training:snapshots", args=[project.slug])
    form = {
        "name": "from page",
        "kind": "preference",
        "ties": "drop",
        "eval_fraction": "0.5",
        "split_seed": "3",
        "exclude_flagged": "gold",
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, form)
    assert response.status_code == 302 and len(callbacks) == 1
    snapshot = DatasetSnapshot.objects.get()
    assert snapshot.name == "from page" and snapshot.status == "building"
    assert (snapshot.eval_fraction, snapshot.split_seed) == (0.5, 3)
    assert snapshot.filters == {"kind": "preference", "ties": "drop", "exclude_flagged": "gold"}
    page = client.get(url).content.decode()
    assert "Building" in page and 'http-equiv="refresh"' in page
    assert snapshot_build(snapshot_id=snapshot.pk).status == "ready"
    assert 'http-equiv="refresh"' not in client.get(url).content.decode()
    response = client.post(url, {"name": "bad", "eval_fraction": "2"})
    assert response.status_code == 400 and "eval_fraction" in response.content.decode()


def test_launch_form_launches_and_redirects(
    project: Project, alice, snapshot: DatasetSnapshot, django_capture_on_commit_callbacks
) -> None:
    form = {
        "method": "reward",
        "snapshot": snapshot.pk,
        "base_model": "tiny",
        "base_version": "",
        "reward_version": "",
        "hyperparameters": '{"max_steps": 2}',
        "seed": "1",
        "precision": "auto",
        "device": "cpu",
        "sample_prompts": "Hello?\n\nWhy?",
    }
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(alice).post(reverse("training:run-launch", args=[project.slug]), form)
    run = Run.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "training:run-detail", args=[project.slug, run.pk]
    )
    assert len(callbacks) == 1
    assert run.spec["hyperparameters"]["max_steps"] == 2 and run.spec["sample_prompts"] == ["Hello?", "Why?"]
    assert run.launched_by == alice and run.spec["device"] == "cpu"
    response = client_for(alice).post(
        reverse("training:run-launch", args=[project.slug]),
        {**form, "hyperparameters": '{"learning_rate": -1}'},
    )
    assert response.status_code == 400 and "hyperparameters.learning_rate" in response.content.decode()


def test_api_launch_preview_and_detail(project: Project, alice, snapshot: DatasetSnapshot) -> None:
    client = client_for(alice)
    body = {"method": "dpo", "snapshot": snapshot.pk, "base_model": "tiny", "hyperparameters": {"beta": 0.2}}
    preview = client.post(
        reverse("training-api:run-preview", args=[project.slug]), body, content_type="application/json"
    )
    assert preview.status_code == 200, preview.content
    assert preview.json()["spec"]["hyperparameters"]["beta"] == 0.2
    assert "-m training.engine run" in preview.json()["command"]
    assert not Run.objects.exists()

    created = client.post(
        reverse("training-api:runs", args=[project.slug]), body, content_type="application/json"
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    detail = client.get(reverse("training-api:run-detail", args=[project.slug, run_id])).json()
    assert detail["status"] == "queued" and detail["spec"]["method"] == "dpo"
    listed = client.get(reverse("training-api:runs", args=[project.slug]), {"status": "queued"}).json()
    assert [r["id"] for r in listed] == [run_id]

    cancel = client.post(reverse("training-api:run-cancel", args=[project.slug, run_id]))
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert client.post(reverse("training-api:run-cancel", args=[project.slug, run_id])).status_code == 409
    retry = client.post(reverse("training-api:run-retry", args=[project.slug, run_id]))
    assert retry.status_code == 200 and retry.json()["attempt"] == 2


def test_api_errors_name_the_field(project: Project, alice, snapshot: DatasetSnapshot) -> None:
    client = client_for(alice)
    url = reverse("training-api:runs", args=[project.slug])
    response = client.post(
        url,
        {"method": "dpo", "snapshot": snapshot.pk, "base_model": "m", "hyperparameters": {"beta": 0}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "hyperparameters.beta"
    response = client.post(url, {"method": "magic", "snapshot": snapshot.pk}, content_type="application/json")
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "method"
    response = client.post(url, {"method": "sft", "snapshot": 999}, content_type="application/json")
    assert response.status_code == 404


def test_api_metrics_are_incremental(project: Project, alice, run: Run) -> None:
    url = reverse("training-api:run-metrics", args=[project.slug, run.pk])
    metrics = client_for(alice).get(url).json()["metrics"]
    assert [(m["step"], m["kind"]) for m in metrics] == [(1, "train"), (2, "eval"), (2, "train")]
    later = client_for(alice).get(url, {"after": 1}).json()["metrics"]
    assert [m["step"] for m in later] == [2, 2]


def test_api_is_for_project_admins(project: Project, bob, mallory, run: Run) -> None:
    for name, args in (
        ("training-api:runs", [project.slug]),
        ("training-api:snapshots", [project.slug]),
        ("training-api:run-detail", [project.slug, run.pk]),
        ("training-api:model-versions", [project.slug]),
    ):
        assert client_for(bob).get(reverse(name, args=args)).status_code == 403
        assert client_for(mallory).get(reverse(name, args=args)).status_code == 404
        assert Client().get(reverse(name, args=args)).status_code in (401, 403)


def test_api_snapshots_and_model_versions(project: Project, alice, run: Run, data_dir: Path) -> None:
    client = client_for(alice)
    url = reverse("training-api:snapshots", args=[project.slug])
    created = client.post(
        url, {"name": "api", "filters": {"ties": "keep"}, "split_seed": 5}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["filters"] == {"ties": "keep"}
    assert created.json()["status"] == "building"
    assert snapshot_build(snapshot_id=created.json()["id"]).manifest["split"]["seed"] == 5
    assert len(client.get(url).json()) == 2
    ModelVersionFactory(
        name="rm", run=run, path=f"{run.output_dir}/final", method="reward", base="tiny", is_reward_model=True
    )
    versions = client.get(reverse("training-api:model-versions", args=[project.slug])).json()
    assert [(v["name"], v["is_reward_model"]) for v in versions] == [("rm", True)]


def test_artifact_download_serves_only_the_runs_files(project: Project, alice, run: Run) -> None:
    artifact = run.artifacts.get(path="final/adapter.bin")
    response = client_for(alice).get(
        reverse("training:artifact-download", args=[project.slug, run.pk, artifact.pk])
    )
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"weights"
    artifact.path = "../../etc/passwd"
    artifact.save()
    response = client_for(alice).get(
        reverse("training:artifact-download", args=[project.slug, run.pk, artifact.pk])
    )
    assert response.status_code == 404


def test_method_defaults_api(alice) -> None:
    response = client_for(alice).get(reverse("training-api:method-defaults", args=["dpo"]))
    assert response.status_code == 200 and json.loads(response.content)["beta"] > 0
    assert client_for(alice).get(reverse("training-api:method-defaults", args=["magic"])).status_code == 400


@pytest.mark.parametrize("model", ["datasetsnapshot", "run", "modelversion"])
def test_admin_lists_training_rows_read_only(model: str, run: Run) -> None:
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = client_for(admin)
    assert client.get(reverse(f"admin:training_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:training_{model}_add")).status_code == 403


def test_model_download_zips_final_and_needs_a_success(project: Project, alice, run: Run) -> None:
    url = reverse("training:model-download", args=[project.slug, run.pk])
    response = client_for(alice).get(url)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("final/adapter.bin") == b"weights"
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED)
    assert client_for(alice).get(url).status_code == 404


def test_run_detail_api_includes_the_result(project: Project, alice, run: Run) -> None:
    result = {
        "status": "succeeded",
        "seconds": 1.5,
        "peak_memory_mb": 400.0,
        "final_metrics": {"loss": 0.5},
        "samples": [{"prompt": "Hi?", "before": "x", "after": "y"}],
    }
    (Path(run.output_dir) / "result.json").write_text(json.dumps(result))
    ModelVersionFactory(name="rm", run=run, path=f"{run.output_dir}/final", method="reward", base="t")
    detail = client_for(alice).get(reverse("training-api:run-detail", args=[project.slug, run.pk])).json()
    assert detail["result"] == result
    assert detail["model_zip_url"] == reverse("training:model-download", args=[project.slug, run.pk])
    page = client_for(alice).get(reverse("training:run-detail", args=[project.slug, run.pk])).content.decode()
    assert 'id="run-result-data"' in page and "Download the model (zip)" in page


def test_run_and_snapshot_lists_take_constant_queries(
    project: Project, alice, snapshot: DatasetSnapshot, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        RunFactory(project=project, method="reward", base_model="m", snapshot=snapshot, launched_by=alice)
    client = client_for(alice)
    client.get(reverse("training-api:runs", args=[project.slug]))  # warm the session
    # session + user + membership + reap + runs, and the snapshots' projects prefetch.
    with django_assert_max_num_queries(6):
        assert len(client.get(reverse("training-api:runs", args=[project.slug])).json()) == 5
    with django_assert_max_num_queries(6):
        assert len(client.get(reverse("training:runs", args=[project.slug])).context["runs"]) == 5
    with django_assert_max_num_queries(6):
        assert len(client.get(reverse("training-api:snapshots", args=[project.slug])).json()) == 1


def test_manage_projects_links_to_snapshots_and_runs(project: Project, alice) -> None:
    page = client_for(alice).get(reverse("project-manage-list")).content.decode()
    assert reverse("training:runs", args=[project.slug]) in page
    assert reverse("training:snapshots", args=[project.slug]) in page
