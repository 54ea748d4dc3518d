"""Arenas: launch checks, blind cross-contestant battles built once every job has ended, names hidden
from annotators whatever the project says, the leaderboard, the doors, and an arena of two tiny models
on the real Celery worker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Comparison, Project, Prompt
from annotation.services.simulating import annotators_simulate
from rankwise.errors import ValidationFailed
from tests.conftest import ROOT
from tests.factories import ModelVersionFactory, PromptFactory, make_comparison
from training.jobs.generation import GenerationExecution
from training.models import Arena, ArenaEntry, GenerationJob, ModelVersion
from training.selectors.arenas import arena_standing
from training.services.arenas import (
    ArenaLaunchSpec,
    arena_comparisons_build,
    arena_launch,
    arenas_refresh,
    battle_pairs,
)
from training.services.generation import generation_cancel

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(db: None) -> tuple[ModelVersion, ModelVersion]:
    return (
        ModelVersionFactory(name="policy-v1", path="/models/v1", method="dpo", base="tiny"),
        ModelVersionFactory(name="policy-v2", path="/models/v2", method="dpo", base="tiny"),
    )


@pytest.fixture
def held_out(project: Project) -> list[Prompt]:
    """Two prompts of round 1 on which careful synthetic annotators prefer policy-v2."""
    metadata = {"quality_order": ["policy-v2", "policy-v1"]}
    return [PromptFactory(project=project, round=1, metadata=metadata) for _ in range(2)]


def _generate(job: GenerationJob, texts: dict[int, list[str]], run_on_commit) -> None:
    """What the worker does with a contestant's engine output: the job's collector ingests each
    prompt's samples, then the job ends (which queues the arena's build, run here once committed)."""
    GenerationJob.objects.filter(pk=job.pk).update(status=GenerationJob.Status.RUNNING)
    job.refresh_from_db()
    execution = GenerationExecution(job)
    execution.records(
        [
            {"prompt_id": prompt_id, "sample": i, "text": text, "params": {}}
            for prompt_id, samples in texts.items()
            for i, text in enumerate(samples)
        ]
    )
    with run_on_commit():
        execution.end(GenerationJob.Status.SUCCEEDED, "")


def _arena(project: Project, versions, held_out: list[Prompt], run_on_commit) -> Arena:
    arena = arena_launch(project=project, spec=ArenaLaunchSpec(model_versions=versions, prompt_round=1, k=2))
    one, two = arena.generation_jobs.order_by("id")
    first, second = (p.pk for p in held_out)
    _generate(one, {first: ["v1 says a", "v1 says b"], second: ["v1 says c", "the same"]}, run_on_commit)
    assert Arena.objects.get(pk=arena.pk).status == Arena.Status.GENERATING
    _generate(two, {first: ["v2 says a", "v2 says b"], second: ["the same", "v2 says d"]}, run_on_commit)
    arena.refresh_from_db()
    return arena


def test_battle_pairs_meet_sample_for_sample_alternating_slots() -> None:
    assert battle_pairs({1: [10, 11], 2: [20, 21], 3: [30]}) == [(10, 20), (21, 11), (10, 30), (30, 20)]
    assert battle_pairs({1: [10], 2: []}) == [] and battle_pairs({1: [10, 11]}) == []


def test_launch_checks_contestants_and_saves_nothing_on_error(
    project: Project, versions, held_out: list[Prompt], data_dir: Path
) -> None:
    v1, v2 = versions
    reward = ModelVersionFactory(name="rm", path="/rm", method="reward", base="t", is_reward_model=True)
    cases = [
        ({"model_versions": [v1]}, "contestants"),
        ({"model_versions": [v1, v1]}, "contestants"),
        ({"model_versions": [v1, reward]}, "model_versions"),
        ({"model_versions": [v1], "base_models": ["policy-v1"]}, "contestants"),
        ({"model_versions": versions, "prompt_round": 9}, "prompts"),
        ({"model_versions": versions, "k": 0}, "k"),
        ({"model_versions": versions, "round": -1}, "round"),
    ]
    for arguments, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            arena_launch(project=project, spec=ArenaLaunchSpec(**{"prompt_round": 1, **arguments}))
        assert caught.value.details[0]["field"] == field, arguments
    assert not Arena.objects.exists() and not GenerationJob.objects.exists()


def test_launch_queues_one_job_per_contestant_on_the_same_prompts(
    project: Project,
    alice,
    versions,
    held_out: list[Prompt],
    data_dir: Path,
    django_capture_on_commit_callbacks,
) -> None:
    make_comparison(project=project, round=3)
    with django_capture_on_commit_callbacks() as callbacks:
        arena = arena_launch(
            project=project,
            created_by=alice,
            spec=ArenaLaunchSpec(model_versions=[versions[0]], base_models=[" base-lm ", ""]),
        )
    assert len(callbacks) == 2
    jobs = list(arena.generation_jobs.order_by("id"))
    assert [job.source_name for job in jobs] == [
        "policy-v1",
        "base-lm",
    ] and arena.name == "policy-v1 vs base-lm"
    assert arena.round == 3, "the current round by default"
    every = sorted(Prompt.objects.filter(project=project).values_list("id", flat=True))
    assert arena.prompt_ids == every and all(job.prompt_ids == every and job.round == 3 for job in jobs)
    assert {(job.k, job.arena_id, job.created_by) for job in jobs} == {(1, arena.pk, alice)}
    assert [job.seed for job in jobs] == [0, 1], "a seed per contestant, or similar models write alike"


def test_battles_join_different_contestants_once_every_job_has_ended(
    project: Project, versions, held_out: list[Prompt], data_dir: Path, run_on_commit
) -> None:
    arena = _arena(project, versions, held_out, run_on_commit)
    assert arena.status == Arena.Status.JUDGING and arena.built_at is not None
    writer = dict(
        ArenaEntry.objects.filter(arena=arena).values_list("candidate_id", "job__model_version__name")
    )
    comparisons = list(arena.comparisons.prefetch_related("slots"))
    # Prompt 1: two battles sample for sample; prompt 2: "the same" was written by both, so one.
    assert len(comparisons) == 3 == Comparison.objects.filter(project=project).count()
    sides = [[writer[s.candidate_id] for s in c.slots.all()] for c in comparisons]
    assert all(sorted(side) == ["policy-v1", "policy-v2"] for side in sides)
    assert {side[0] for side in sides} == {"policy-v1", "policy-v2"}, "slot order alternates"
    assert {(c.arena, c.round) for c in comparisons} == {(True, arena.round)}
    assert arena_comparisons_build(arena=arena) == 0 and arenas_refresh(project=project) == 0
    assert arena.comparisons.count() == 3


def test_an_arena_left_with_one_contestant_fails_with_the_reason(
    project: Project, versions, held_out: list[Prompt], data_dir: Path, run_on_commit
) -> None:
    arena = arena_launch(project=project, spec=ArenaLaunchSpec(model_versions=versions, prompt_round=1))
    one, two = arena.generation_jobs.order_by("id")
    _generate(one, {held_out[0].pk: ["only one"]}, run_on_commit)
    with run_on_commit():
        generation_cancel(job=two)
    arena.refresh_from_db()
    assert arena.status == Arena.Status.FAILED and "policy-v2: cancelled" in arena.error
    assert not Comparison.objects.filter(project=project).exists()


def test_annotators_never_see_the_contestants_and_the_leaderboard_ranks_the_preferred_first(
    project: Project, alice, bob, versions, held_out: list[Prompt], data_dir: Path, run_on_commit
) -> None:
    # Overlap 5: bob's lease and four synthetic annotators on every battle.
    project.hides_model_names, project.overlap = False, 5
    project.save()
    arena = _arena(project, versions, held_out, run_on_commit)
    annotator = Client()
    annotator.force_login(bob)
    item = annotator.post(reverse("api:item-next", args=[project.slug]))
    assert item.status_code == 200 and item.json()["item"] is not None
    assert {c["model"] for c in item.json()["item"]["candidates"]} == {None}
    listed = annotator.get(reverse("api:comparison-list", args=[project.slug]))
    page = annotator.get(reverse("annotate", args=[project.slug]))
    for response in (item, listed, page):
        assert b"policy-v" not in response.content
    admin = Client()
    admin.force_login(alice)
    models = {
        c["model"]
        for r in admin.get(reverse("api:comparison-list", args=[project.slug])).json()["results"]
        for c in r["candidates"]
    }
    assert models == {"policy-v1", "policy-v2"}, "admins see who wrote what"

    annotators_simulate(project=project, behaviours={"careful": 4}, seed=1)
    standing = arena_standing(arena=arena, rounds=50)
    assert standing["judged_comparisons"] == 3 and standing["battles"] == 12
    best, second = standing["leaderboard"]
    assert (best["model"], second["model"]) == ("policy-v2", "policy-v1")
    assert best["ci_low"] <= best["score"] <= best["ci_high"] and best["battles"] == 12
    v2_row = next(row for row in standing["matrix"] if row["model"] == "policy-v2")
    against_v1 = next(cell for cell in v2_row["cells"] if cell["opponent"] == "policy-v1")
    assert against_v1["battles"] == 12 and against_v1["win_rate"] == best["win_rate"] > 0.5
    api = admin.get(reverse("training-api:arena-detail", args=[project.slug, arena.pk])).json()
    assert api["status"] == "judging" and api["standing"]["leaderboard"][0]["model"] == "policy-v2"


def test_arena_doors_are_for_project_admins_and_launches_are_audited(
    project: Project, alice, bob, mallory, versions, held_out: list[Prompt], data_dir: Path
) -> None:
    pages, api = (
        reverse("training:arenas", args=[project.slug]),
        reverse("training-api:arenas", args=[project.slug]),
    )
    client = Client()
    client.force_login(bob)
    assert client.get(pages).status_code == 403 and client.post(pages).status_code == 403
    client.force_login(mallory)
    assert client.get(pages).status_code == 404
    client.force_login(alice)
    assert client.get(pages).status_code == 200
    refused = client.post(pages, {"model_versions": [versions[0].pk], "base_models": "", "prompt_round": "1"})
    assert refused.status_code == 400 and b"contestants" in refused.content
    response = client.post(
        pages,
        {"model_versions": [v.pk for v in versions], "base_models": "", "prompt_round": "1", "round": "1"},
    )
    arena = Arena.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/arenas/{arena.pk}/")
    detail = client.get(response["Location"])
    assert detail.status_code == 200 and b"policy-v2" in detail.content and b"Leaderboard" in detail.content
    event = AuditEvent.objects.get(action=AuditEvent.Action.ARENA_LAUNCH)
    assert (event.actor, event.target, event.details["contestants"]) == (
        alice,
        f"arena {arena.pk}",
        ["policy-v1", "policy-v2"],
    )

    rest = APIClient()
    rest.force_authenticate(bob)
    assert rest.get(api).status_code == 403
    rest.force_authenticate(alice)
    created = rest.post(
        api,
        {"model_versions": [versions[1].pk], "base_models": ["base-lm"], "prompt_ids": [held_out[0].pk]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["contestants"], body["prompt_ids"], body["status"]) == (
        ["policy-v2", "base-lm"],
        [held_out[0].pk],
        "generating",
    )
    unknown = rest.post(api, {"model_versions": [versions[0].pk, 999]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["details"][0]["field"] == "model_versions"
    assert [a["id"] for a in rest.get(api).json()] == [body["id"], arena.pk]
    standing = rest.get(reverse("training-api:arena-detail", args=[project.slug, body["id"]])).json()[
        "standing"
    ]
    assert [c["name"] for c in standing["contestants"]] == ["policy-v2", "base-lm"] and standing[
        "leaderboard"
    ] == []
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ARENA_LAUNCH).count() == 2


@pytest.fixture(scope="session")
def other_tiny_model(tiny_model: str) -> str:
    """A second tiny model, initialised from another seed, so it writes other texts."""
    path = str(Path(tiny_model).parent / "tiny-llama-seed1")
    subprocess.run(
        [sys.executable, "-m", "training.engine.testing.tiny", path, "--seed", "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return path


@pytest.mark.integration
@pytest.mark.training
def test_worker_runs_an_arena_of_two_tiny_models_into_blind_battles(
    celery_worker_process, transactional_db: None, tiny_model: str, other_tiny_model: str, alice, bob
) -> None:
    project = Project.objects.get(slug="project-a")
    project.hides_model_names = False
    project.save()
    v1 = ModelVersionFactory(name="tiny-v1", path=tiny_model, method="dpo", base=tiny_model)
    v2 = ModelVersionFactory(name="tiny-v2", path=other_tiny_model, method="dpo", base=tiny_model)
    prompts = [
        PromptFactory(project=project, round=2, metadata={"quality_order": ["tiny-v2", "tiny-v1"]})
        for _ in range(3)
    ]
    arena = arena_launch(
        project=project,
        created_by=alice,
        spec=ArenaLaunchSpec(model_versions=[v1, v2], prompt_round=2, k=2, max_new_tokens=8, temperature=1.0),
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        arena.refresh_from_db()
        if arena.status != Arena.Status.GENERATING:
            break
        time.sleep(0.5)
    jobs = list(arena.generation_jobs.order_by("id"))
    assert arena.status == Arena.Status.JUDGING, (arena.error, [(j.status, j.error[-1500:]) for j in jobs])
    assert all(job.status == GenerationJob.Status.SUCCEEDED and job.comparisons_created == 0 for job in jobs)
    writer = dict(
        ArenaEntry.objects.filter(arena=arena).values_list("candidate_id", "job__model_version__name")
    )
    comparisons = list(Comparison.objects.filter(project=project).prefetch_related("slots"))
    assert len(comparisons) >= 4 and {c.pk for c in comparisons} == set(
        arena.comparisons.values_list("id", flat=True)
    )
    assert all(
        sorted(writer[s.candidate_id] for s in c.slots.all()) == ["tiny-v1", "tiny-v2"] for c in comparisons
    )
    assert {p.pk for p in prompts} >= {c.prompt_id for c in comparisons}

    annotator = Client()
    annotator.force_login(bob)
    item = annotator.post(reverse("api:item-next", args=[project.slug]))
    assert item.json()["item"] is not None and b"tiny-v" not in item.content
    assert b"tiny-v" not in annotator.get(reverse("api:comparison-list", args=[project.slug])).content
    annotators_simulate(project=project, behaviours={"careful": 3})
    assert arena_standing(arena=arena, rounds=50)["leaderboard"][0]["model"] == "tiny-v2"
