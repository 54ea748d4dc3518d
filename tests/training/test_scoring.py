"""Scoring jobs and reward scores: launch/cancel services, storing score lines, the report beside the human
judgments, the pages and API (project admins only; annotators never see a score), and a job on the real
Celery worker with a tiny sequence classifier."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Candidate, Comparison, Judgment, Project
from annotation.selectors.projects import queue_state
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.projects import project_update
from rankwise.errors import Conflict, ValidationFailed
from tests.conftest import ROOT
from tests.factories import (
    CandidateFactory,
    ModelVersionFactory,
    ProjectFactory,
    PromptFactory,
    RunFactory,
    SnapshotFactory,
    UserFactory,
    make_comparison,
)
from training.jobs.scoring import scores_store, scoring_execute
from training.models import CandidateScore, ModelVersion, ScoringJob
from training.selectors.scoring import score_report
from training.services.scoring import ScoringLaunchSpec, scoring_cancel, scoring_launch
from training.tasks import jobs_reap

# A score no other number on the pages is likely to show, to look for it in annotator responses.
SECRET_SCORE = 0.8765432


def reward_version(
    project: Project | None = None, *, name: str = "rm", path: str = "/nowhere"
) -> ModelVersion:
    """A reward model version: of a run in `project`, or shared (no run) when project is None."""
    run = None
    if project is not None:
        snapshot = SnapshotFactory(name="s", status="ready")
        run = RunFactory(project=project, method="reward", base_model="m", snapshot=snapshot)
    return ModelVersionFactory(name=name, run=run, path=path, method="reward", base="m", is_reward_model=True)


def judge(comparison: Comparison, *orderings: list[list[int]]) -> None:
    for ordering in orderings:
        Judgment.objects.create(
            comparison=comparison,
            annotator=UserFactory(),
            ordering=ordering,
            submission_token=uuid.uuid4().hex,
        )
    Comparison.objects.filter(pk=comparison.pk).update(judgment_count=comparison.judgments.count())


def score(version: ModelVersion, comparison: Comparison, *values: float) -> list[int]:
    ids = list(comparison.slots.order_by("position").values_list("candidate_id", flat=True))
    for candidate_id, value in zip(ids, values, strict=True):
        CandidateScore.objects.create(candidate_id=candidate_id, model_version=version, score=value)
    return ids


def test_launch_checks_the_version_the_selection_and_the_limits(project: Project, data_dir: Path) -> None:
    CandidateFactory(prompt=PromptFactory(project=project))
    version = reward_version(project)
    policy = ModelVersionFactory(name="p", path="/p", method="dpo", base="m")
    elsewhere = reward_version(ProjectFactory())
    cases = [
        ({"model_version": None}, "model_version"),
        ({"model_version": policy}, "model_version"),
        ({"model_version": elsewhere}, "model_version"),
        ({"selection": "some"}, "selection"),
        ({"selection": "round"}, "round"),
        ({"selection": "round", "round": 5}, "selection"),  # no candidate of round 5
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 4}, "max_length"),
    ]
    for changes, field in cases:
        with pytest.raises(ValidationFailed) as error:
            scoring_launch(project=project, spec=ScoringLaunchSpec(**{"model_version": version, **changes}))
        assert error.value.details[0]["field"] == field, changes
    assert not ScoringJob.objects.exists()


def test_launch_freezes_all_one_rounds_or_the_unscored_candidates(project: Project, data_dir: Path) -> None:
    prompt = PromptFactory(project=project)
    first, second, third = (CandidateFactory(prompt=prompt, round=r) for r in (0, 1, 1))
    CandidateFactory()  # another project's
    version = reward_version(project)
    CandidateScore.objects.create(candidate=second, model_version=version, score=1.0)
    job = scoring_launch(
        project=project, spec=ScoringLaunchSpec(model_version=version, batch_size=4, max_length=64)
    )
    assert (job.candidate_ids, job.candidates_total, job.queue, job.status) == (
        [first.pk, second.pk, third.pk],
        3,
        "gpu",
        "queued",
    )
    assert scoring_launch(
        project=project, spec=ScoringLaunchSpec(model_version=version, selection="round", round=1)
    ).candidate_ids == [
        second.pk,
        third.pk,
    ]
    assert scoring_launch(
        project=project, spec=ScoringLaunchSpec(model_version=version, selection="unscored")
    ).candidate_ids == [
        first.pk,
        third.pk,
    ]


def test_cancel_a_queued_job_then_a_finished_one_conflicts(project: Project, data_dir: Path) -> None:
    CandidateFactory(prompt=PromptFactory(project=project))
    job = scoring_launch(project=project, spec=ScoringLaunchSpec(model_version=reward_version(project)))
    assert scoring_cancel(job=job).status == ScoringJob.Status.CANCELLED
    with pytest.raises(Conflict):
        scoring_cancel(job=job)
    scoring_execute(job_id=job.pk)  # a cancelled job is not run
    job.refresh_from_db()
    assert job.status == ScoringJob.Status.CANCELLED and job.started_at is None


def test_a_job_whose_worker_died_is_failed_and_keeps_its_scores(
    project: Project, alice, data_dir: Path
) -> None:
    candidate = CandidateFactory(prompt=PromptFactory(project=project))
    job = scoring_launch(project=project, spec=ScoringLaunchSpec(model_version=reward_version(project)))
    scores_store(job=job, records=[{"candidate_id": candidate.pk, "score": 1.0}])
    stale = timezone.now() - timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS + 5)
    ScoringJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
    api = APIClient()
    api.force_authenticate(alice)
    url = reverse("training-api:scoring-detail", args=[project.slug, job.pk])
    assert api.get(url).json()["status"] == "running", "reading reaps nothing: beat does"
    assert jobs_reap() == 1
    state = api.get(url).json()
    assert state["status"] == "failed" and "lost worker" in state["error"]
    assert CandidateScore.objects.filter(job=job).count() == 1


def test_score_lines_are_stored_once_per_candidate_and_version(project: Project, data_dir: Path) -> None:
    prompt = PromptFactory(project=project)
    kept, gone = CandidateFactory(prompt=prompt), CandidateFactory(prompt=prompt)
    version = reward_version(project)
    job = scoring_launch(project=project, spec=ScoringLaunchSpec(model_version=version))
    gone_id = gone.pk
    gone.delete()
    scores_store(
        job=job, records=[{"candidate_id": kept.pk, "score": 0.5}, {"candidate_id": gone_id, "score": 1}]
    )
    scores_store(job=job, records=[{"candidate_id": kept.pk, "score": -1.5, "truncated": True}])
    errors = [
        {"candidate_id": 900 + i, "error": "ValueError: bad"} for i in range(ScoringJob.ITEM_ERRORS_KEPT + 5)
    ]
    scores_store(job=job, records=errors)
    [stored] = CandidateScore.objects.all()
    assert (stored.candidate_id, stored.score, stored.truncated, stored.job_id) == (
        kept.pk,
        -1.5,
        True,
        job.pk,
    )
    job.refresh_from_db()
    assert job.candidates_scored == 2 and job.candidates_failed == 1 + ScoringJob.ITEM_ERRORS_KEPT + 5
    assert len(job.item_errors) == ScoringJob.ITEM_ERRORS_KEPT


def test_report_puts_the_largest_disagreement_first(project: Project) -> None:
    version = reward_version(project)
    strong, mild, agree, unjudged, half = (make_comparison(project=project) for _ in range(5))
    a, b = score(version, strong, 3.0, -1.0)
    judge(strong, [[b], [a]], [[b], [a]])  # humans prefer b, the model a by 4
    c, d = score(version, mild, 0.2, 0.0)
    judge(mild, [[d], [c]])
    e, f = score(version, agree, 1.0, 0.0)
    judge(agree, [[e], [f]], [[e], [f]], [[f], [e]])
    score(version, unjudged, 0.0, 1.0)
    g, _ = half.slots.order_by("position").values_list("candidate_id", flat=True)
    CandidateScore.objects.create(candidate_id=g, model_version=version, score=5.0)  # not fully scored
    judge(half, [[g], [_]])
    report = score_report(project=project, model_version=version)
    assert (report.candidates, report.scored, report.judged, report.compared) == (10, 9, 3, 3)
    assert (report.agreements, report.disagreements) == (1, 2)
    assert report.agreement_rate == pytest.approx(1 / 3)
    assert [row.verdict.comparison_id for row in report.rows] == [strong.pk, mild.pk, agree.pk]
    first = report.rows[0]
    assert (first.verdict.rm_choice, first.verdict.human, first.verdict.margin_vs_humans) == (a, b, -4.0)
    assert [(c["id"], c["score"], c["votes"]) for c in first.candidates] == [(a, 3.0, 0), (b, -1.0, 2)]
    assert first.prompt == strong.prompt.text
    assert len(score_report(project=project, model_version=version, limit=1).rows) == 1


def test_uncertainty_order_serves_the_smallest_gap_first(project: Project, bob, run_on_commit) -> None:
    version = reward_version(project)
    wide, close, middle, unscored = (make_comparison(project=project) for _ in range(4))
    score(version, wide, 2.0, -2.0)
    score(version, close, 0.30, 0.25)
    score(version, middle, 1.0, 0.0)
    # The new setting re-ranks the queue (a task, run here as the worker would).
    with run_on_commit():
        project = project_update(project=project, queue_order="uncertainty", queue_model_version=version)
    state = queue_state(project=project)
    assert (state.order, state.ranked, state.comparisons) == ("uncertainty", 3, 4)
    served = []
    for _ in range(4):
        lease = comparison_lease(project=project, annotator=bob)
        served.append(lease.comparison_id)
        assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="next")
    assert served == [close.pk, middle.pk, wide.pk, unscored.pk]
    with run_on_commit():
        project = project_update(project=project, queue_order="default")
    assert queue_state(project=project).ranked == 0
    assert set(Comparison.objects.values_list("priority", flat=True)) == {0}


def test_pages_and_api_are_for_project_admins(project: Project, alice, bob, mallory, data_dir: Path) -> None:
    comparison = make_comparison(project=project)
    version = reward_version(project)
    a, b = score(version, comparison, SECRET_SCORE, -0.25)
    judge(comparison, [[b], [a]])
    page = reverse("training:scores", args=[project.slug])
    client = Client()
    for user, status in ((bob, 403), (mallory, 404)):
        client.force_login(user)
        assert client.get(page).status_code == status
        assert client.post(page, {"model_version": version.pk}).status_code == status
        assert client.get(reverse("training-api:scores", args=[project.slug])).status_code == status
    assert not ScoringJob.objects.exists()

    client.force_login(alice)
    shown = client.get(page)
    assert shown.status_code == 200 and f"{SECRET_SCORE:.3f}".encode() in shown.content
    assert b'agrees on <strong id="agreement-rate">0%' in shown.content
    assert client.post(page, {"model_version": version.pk, "selection": "round"}).status_code == 400
    launched = client.post(page, {"model_version": version.pk, "selection": "all", "batch_size": "8"})
    job = ScoringJob.objects.get()
    assert launched.status_code == 302 and launched["Location"].endswith(f"?model_version={version.pk}")
    assert (job.batch_size, job.candidates_total, job.created_by) == (8, 2, alice)
    cancel = reverse("training:scoring-cancel", args=[project.slug, job.pk])
    client.force_login(bob)
    assert client.post(cancel).status_code == 403
    client.force_login(alice)
    assert client.post(cancel).status_code == 302
    assert client.post(cancel).status_code == 409

    api = APIClient()
    api.force_authenticate(alice)
    listed = reverse("training-api:scorings", args=[project.slug])
    created = api.post(listed, {"model_version": version.pk, "selection": "unscored"}, format="json")
    assert created.status_code == 400 and created.json()["details"][0]["field"] == "selection"
    created = api.post(listed, {"model_version": version.pk, "max_length": 256}, format="json")
    assert created.status_code == 201 and created.json()["max_length"] == 256
    assert (
        api.post(listed, {"model_version": 999}, format="json").json()["details"][0]["field"]
        == "model_version"
    )
    detail = reverse("training-api:scoring-detail", args=[project.slug, created.json()["id"]])
    assert api.get(detail).json()["status"] == "queued"
    report = api.get(
        reverse("training-api:scores", args=[project.slug]), {"model_version": version.pk}
    ).json()
    assert (report["compared"], report["agreements"], report["agreement_rate"]) == (1, 0, 0.0)
    [row] = report["comparisons"]
    assert (row["rm_choice"], row["human_choice"], row["agrees"]) == (a, b, False)
    assert row["margin_vs_humans"] == pytest.approx(-0.25 - SECRET_SCORE)
    bad = api.get(reverse("training-api:scores", args=[project.slug]), {"model_version": "x"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "model_version"


def test_annotators_never_see_a_score(project: Project, alice, bob, run_on_commit) -> None:
    comparison = make_comparison(project=project)
    version = reward_version(project)
    score(version, comparison, SECRET_SCORE, 0.1)
    with run_on_commit():
        project = project_update(project=project, queue_order="uncertainty", queue_model_version=version)
    api = APIClient()
    api.force_authenticate(bob)
    slug = project.slug
    responses = [
        api.get(reverse("api:project-detail", args=[slug])),
        api.get(reverse("api:comparison-list", args=[slug])),
        api.post(reverse("api:item-next", args=[slug])),
    ]
    web = Client()
    web.force_login(bob)
    responses.append(web.get(reverse("annotate", args=[slug])))
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    for response in responses:
        body = response.content.decode()
        assert str(SECRET_SCORE)[:6] not in body and '"score' not in body and "/scores/" not in body
    # The queue order the scores set is an answer key too: annotators see no priority.
    assert Comparison.objects.get(pk=comparison.pk).priority != 0
    assert [c["priority"] for c in responses[1].json()["results"]] == [None]
    for name, args in (("training-api:scorings", [slug]), ("training-api:scores", [slug])):
        assert api.get(reverse(name, args=args)).status_code == 403


@pytest.fixture(scope="session")
def tiny_reward_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny model with a fresh one-score head: any HF sequence classifier is a usable reward model."""
    path = tmp_path_factory.mktemp("tiny-rm") / "rm"
    code = (
        "import sys\n"
        "from transformers import AutoModelForSequenceClassification\n"
        "from training.engine.loading import tokenizer_load\n"
        "from training.engine.testing.tiny import build_tiny_model\n"
        "tiny = build_tiny_model(sys.argv[1] + '-base')\n"
        "model = AutoModelForSequenceClassification.from_pretrained(tiny, num_labels=1)\n"
        "model.save_pretrained(sys.argv[1])\n"
        "tokenizer_load(tiny).save_pretrained(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True, capture_output=True)
    return str(path)


@pytest.mark.integration
@pytest.mark.training
def test_worker_scores_the_candidates_and_reorders_the_queue(
    celery_worker_process, transactional_db: None, tiny_reward_model: str
) -> None:
    project = ProjectFactory()
    comparisons = [make_comparison(project=project) for _ in range(3)]
    broken = PromptFactory(project=project, messages=[{"role": "user"}])
    bad = CandidateFactory(prompt=broken)
    version = ModelVersionFactory(
        name="tiny-rm", path=tiny_reward_model, method="reward", base="tiny", is_reward_model=True
    )
    project = project_update(project=project, queue_order="uncertainty", queue_model_version=version)
    job = scoring_launch(project=project, spec=ScoringLaunchSpec(model_version=version, batch_size=4))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.3)
    log = Path(job.output_dir) / "engine.log"
    assert job.status == ScoringJob.Status.SUCCEEDED, f"{job.status} {job.error} {log.read_text()[-2000:]}"
    assert (job.candidates_total, job.candidates_scored, job.candidates_failed) == (7, 6, 1)
    assert [e["candidate_id"] for e in job.item_errors] == [bad.pk]
    scores = dict(CandidateScore.objects.filter(model_version=version).values_list("candidate_id", "score"))
    assert set(scores) == set(
        Candidate.objects.exclude(pk=bad.pk).filter(prompt__project=project).values_list("pk", flat=True)
    )
    gaps = {}
    for comparison in comparisons:
        first, second = comparison.slots.order_by("position").values_list("candidate_id", flat=True)
        gaps[comparison.pk] = abs(scores[first] - scores[second])
    # The job ended by ranking the queue: the smallest gap is served first.
    lease = comparison_lease(project=project, annotator=UserFactory(username="annotator-x"))
    assert lease.comparison_id == min(gaps, key=gaps.get)
