"""Generation jobs: launch/cancel services, execution through the engine against a fake OpenAI-compatible
server, the pages' permissions, and a job on the real Celery worker with the tiny local model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Candidate, Comparison, Project, Prompt
from rankwise.errors import Conflict, ValidationFailed
from tests.factories import ModelVersionFactory, ProjectFactory, PromptFactory
from tests.training.engine.test_generate import FakeOpenAI, fake_openai  # noqa: F401 - the fixture
from training.jobs.generation import _Collector, generation_execute
from training.models import GenerationJob
from training.services.generation import GenerationLaunchSpec, generation_cancel, generation_launch


@pytest.fixture
def endpoint(settings, fake_openai: str, data_dir: Path) -> str:  # noqa: F811 - the fixture
    settings.RANKWISE_OPENAI_BASE_URL = fake_openai
    settings.RANKWISE_OPENAI_MODEL = "served-model"
    settings.RANKWISE_OPENAI_API_KEY = "sk-test"
    return fake_openai


def test_launch_needs_exactly_one_source(project: Project, data_dir: Path) -> None:
    PromptFactory(project=project)
    with pytest.raises(ValidationFailed, match="exactly one"):
        generation_launch(project=project, spec=GenerationLaunchSpec())
    with pytest.raises(ValidationFailed, match="exactly one"):
        generation_launch(project=project, spec=GenerationLaunchSpec(base_model="m", use_endpoint=True))
    with pytest.raises(ValidationFailed, match="no endpoint is configured"):
        generation_launch(project=project, spec=GenerationLaunchSpec(use_endpoint=True))
    with pytest.raises(ValidationFailed, match="k: must be"):
        generation_launch(project=project, spec=GenerationLaunchSpec(base_model="m", k=0))
    with pytest.raises(ValidationFailed, match="top_p"):
        generation_launch(project=project, spec=GenerationLaunchSpec(base_model="m", top_p=0.0))


def test_launch_freezes_the_selected_prompts_of_the_project(project: Project, data_dir: Path) -> None:
    first, second, third = (PromptFactory(project=project, round=r) for r in (0, 1, 1))
    other = PromptFactory(project=ProjectFactory())
    with pytest.raises(ValidationFailed, match="not all are prompts of this project"):
        generation_launch(
            project=project, spec=GenerationLaunchSpec(base_model="m", prompt_ids=[first.pk, other.pk])
        )
    with pytest.raises(ValidationFailed, match="no prompt"):
        generation_launch(project=project, spec=GenerationLaunchSpec(base_model="m", prompt_round=7))
    job = generation_launch(
        project=project, spec=GenerationLaunchSpec(base_model="m", prompt_round=1, round=2)
    )
    assert (job.prompt_ids, job.prompts_total, job.round, job.queue) == ([second.pk, third.pk], 2, 2, "gpu")
    assert generation_launch(
        project=project, spec=GenerationLaunchSpec(base_model="m", limit=1)
    ).prompt_ids == [first.pk]
    assert job.status == GenerationJob.Status.QUEUED and job.source_name == "m"


def test_cancel_a_queued_job_then_a_finished_one_conflicts(project: Project, data_dir: Path) -> None:
    PromptFactory(project=project)
    job = generation_launch(project=project, spec=GenerationLaunchSpec(base_model="m"))
    assert generation_cancel(job=job).status == GenerationJob.Status.CANCELLED
    with pytest.raises(Conflict):
        generation_cancel(job=job)
    generation_execute(job_id=job.pk)  # a cancelled job is not run
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED and job.started_at is None


@pytest.mark.training
def test_endpoint_job_creates_candidates_and_comparisons_and_records_errors(
    project: Project, endpoint: str
) -> None:
    good = PromptFactory(project=project, messages=[{"role": "user", "content": "hello"}])
    bad = PromptFactory(project=project, messages=[{"role": "user", "content": "boom"}])
    job = generation_launch(
        project=project, spec=GenerationLaunchSpec(use_endpoint=True, k=2, temperature=0.7, seed=10, round=3)
    )
    assert job.queue == "default" and job.endpoint_base_url == endpoint
    generation_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    assert (job.prompts_done, job.candidates_created, job.comparisons_created) == (2, 2, 1)
    [error] = job.prompt_errors
    assert error["prompt_id"] == bad.pk and "HTTP 500" in error["error"]
    candidates = list(Candidate.objects.filter(prompt=good).order_by("id"))
    assert [c.text for c in candidates] == ["served-model says hello #10", "served-model says hello #11"]
    assert {c.model_name for c in candidates} == {"served-model"} and {c.round for c in candidates} == {3}
    assert candidates[0].generation_params["temperature"] == 0.7
    assert candidates[0].generation_params["generation_job"] == job.pk
    [comparison] = Comparison.objects.filter(prompt=good)
    assert comparison.round == 3 and comparison.project_id == project.pk
    assert FakeOpenAI.requests[0]["auth"] == "Bearer sk-test"
    assert "sk-test" not in (Path(job.output_dir) / "spec.json").read_text()

    again = generation_launch(
        project=project, spec=GenerationLaunchSpec(use_endpoint=True, k=2, seed=10, prompt_ids=[good.pk])
    )
    generation_execute(job_id=again.pk)
    again.refresh_from_db()
    assert (again.candidates_created, again.comparisons_created) == (0, 0), "same texts are not duplicated"


@pytest.mark.training
def test_a_job_where_every_prompt_fails_is_failed(project: Project, endpoint: str) -> None:
    PromptFactory(project=project, messages=[{"role": "user", "content": "boom"}])
    job = generation_launch(project=project, spec=GenerationLaunchSpec(use_endpoint=True))
    generation_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED and "Every prompt failed" in job.error


def test_pages_are_for_project_admins(project: Project, alice, bob, mallory, data_dir: Path) -> None:
    prompt = PromptFactory(project=project)
    url = reverse("training:generations", args=[project.slug])
    client = Client()
    client.force_login(bob)
    assert client.get(url).status_code == 403
    assert client.post(url, {"source": "base", "base_model": "m"}).status_code == 403
    client.force_login(mallory)
    assert client.get(url).status_code == 404
    assert not GenerationJob.objects.exists()

    client.force_login(alice)
    assert client.get(url).status_code == 200
    assert client.post(url, {"source": "base", "base_model": "m", "k": "0"}).status_code == 400
    assert client.post(url, {"source": "base", "base_model": "m", "prompt_ids": "x"}).status_code == 400
    response = client.post(
        url,
        {
            "source": "base",
            "base_model": "m",
            "k": "3",
            "round": "1",
            "prompt_ids": str(prompt.pk),
            "limit": "",
        },
    )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/generations/{job.pk}/")
    assert (job.k, job.round, job.prompt_ids, job.created_by) == (3, 1, [prompt.pk], alice)
    detail = reverse("training:generation-detail", args=[project.slug, job.pk])
    assert b"Generation " in client.get(detail).content
    api = reverse("training-api:generation-detail", args=[project.slug, job.pk])
    assert client.get(api).json()["status"] == "queued"
    cancel = reverse("training:generation-cancel", args=[project.slug, job.pk])
    client.force_login(bob)
    assert client.post(cancel).status_code == 403
    client.force_login(alice)
    assert client.post(cancel).status_code == 302
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert client.post(cancel).status_code == 409


@pytest.mark.integration
@pytest.mark.training
def test_worker_generates_with_the_tiny_model(
    celery_worker_process, transactional_db: None, tiny_model: str
) -> None:
    project = ProjectFactory()
    prompts = [PromptFactory(project=project) for _ in range(3)]
    broken = PromptFactory(project=project, messages=[{"role": "user"}])
    job = generation_launch(
        project=project,
        spec=GenerationLaunchSpec(base_model=tiny_model, k=2, max_new_tokens=8, batch_size=2, round=1),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.3)
    log = Path(job.output_dir) / "engine.log"
    assert job.status == GenerationJob.Status.SUCCEEDED, f"{job.status} {job.error} {log.read_text()[-2000:]}"
    assert job.prompts_done == 4 and [e["prompt_id"] for e in job.prompt_errors] == [broken.pk]
    candidates = Candidate.objects.filter(prompt__in=prompts)
    assert job.candidates_created == candidates.count() >= 5  # two samples may, rarely, be equal
    assert {(c.model_name, c.round) for c in candidates} == {(tiny_model, 1)}
    assert job.comparisons_created == Comparison.objects.filter(project=project, round=1).count() >= 2
    assert Prompt.objects.filter(project=project).count() == 4


class SlowOpenAI(FakeOpenAI):
    """The fake server, taking a second per request: time to cancel while the engine works. The worker
    has its own settings (no API key), so this one asks for none."""

    api_key = None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        time.sleep(1.0)
        super().do_POST()


@pytest.mark.integration
def test_cancel_stops_the_engine_and_keeps_what_was_generated(
    celery_worker_process, transactional_db: None, settings
) -> None:
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.RANKWISE_OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    try:
        project = ProjectFactory()
        for _ in range(30):
            PromptFactory(project=project)
        job = generation_launch(
            project=project,
            spec=GenerationLaunchSpec(use_endpoint=True, endpoint_model="slow", k=1, batch_size=1),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not job.prompts_done:
            time.sleep(0.2)
            job.refresh_from_db()
        assert job.status == GenerationJob.Status.RUNNING and job.prompts_done >= 1, job.error
        generation_cancel(job=job)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not job.is_finished:
            time.sleep(0.2)
            job.refresh_from_db()
        assert job.status == GenerationJob.Status.CANCELLED
        assert 1 <= job.candidates_created < 30
        assert Candidate.objects.filter(prompt__project=project).count() == job.candidates_created
        with pytest.raises(ProcessLookupError):
            os.killpg(job.pid, 0)
    finally:
        server.shutdown()
        server.server_close()


def test_api_launches_lists_and_cancels_for_admins_only(project: Project, alice, bob, data_dir: Path) -> None:
    from rest_framework.test import APIClient

    prompts = [PromptFactory(project=project) for _ in range(3)]
    url = reverse("training-api:generations", args=[project.slug])
    client = APIClient()
    client.force_authenticate(bob)
    assert client.get(url).status_code == 403
    client.force_authenticate(alice)
    body = {
        "source": "base",
        "base_model": "m",
        "k": 2,
        "prompt_ids": [prompts[0].pk, prompts[2].pk],
        "round": 4,
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["prompt_ids"], created["round"], created["status"]) == (
        [prompts[0].pk, prompts[2].pk],
        4,
        "queued",
    )
    assert created["source_name"] == "m" and created["created_by"] == "alice"
    bad = client.post(url, {"source": "version", "model_version": 999}, format="json")
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "model_version"
    assert client.post(url, {"source": "moon"}, format="json").status_code == 400
    assert [job["id"] for job in client.get(url).json()] == [created["id"]]
    cancel = reverse("training-api:generation-cancel", args=[project.slug, created["id"]])
    assert client.post(cancel).json()["status"] == "cancelled"
    assert client.post(cancel).status_code == 409


@pytest.mark.training
def test_model_version_source_names_the_candidates(project: Project, data_dir: Path, tiny_model: str) -> None:
    version = ModelVersionFactory(name="policy-v1", path=tiny_model, method="sft", base=tiny_model)
    prompt = PromptFactory(project=project)
    job = generation_launch(
        project=project,
        spec=GenerationLaunchSpec(model_version=version, k=2, max_new_tokens=6, temperature=0.0),
    )
    generation_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    # Greedy decoding gives k equal texts: one candidate, so no comparison.
    [candidate] = Candidate.objects.filter(prompt=prompt)
    assert (candidate.model_name, job.candidates_created, job.comparisons_created) == ("policy-v1", 1, 0)
    assert candidate.generation_params["temperature"] == 0.0


def test_a_nul_character_in_generated_text_is_stored_as_a_replacement(
    project: Project, data_dir: Path
) -> None:

    prompt = PromptFactory(project=project)
    job = generation_launch(project=project, spec=GenerationLaunchSpec(base_model="byte-model", k=2))
    _Collector(job).feed(
        [{"prompt_id": prompt.pk, "sample": i, "text": text} for i, text in enumerate(["a\x00b", "ok"])]
    )
    assert sorted(Candidate.objects.filter(prompt=prompt).values_list("text", flat=True)) == [
        "a\ufffdb",
        "ok",
    ]
