"""The disagreement queue order through the real services (a submission re-ranks its comparison at once),
and the queue_order setting on the settings page and API, with errors naming the field."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Comparison, Judgment, Membership, Project
from annotation.selectors.projects import queue_state
from annotation.services import queueing
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.importing import data_import
from annotation.services.judging import judgment_edit, judgment_submit
from annotation.services.projects import project_update
from annotation.services.queueing import queue_priorities_refresh
from tests.annotation.test_import_doors import _settings_post
from tests.conftest import member
from tests.factories import ModelVersionFactory, ProjectFactory, UserFactory, make_answer, make_comparison
from tests.training.test_scoring import reward_version, score
from tests.waiting import wait_until


def _ids(comparison: Comparison) -> list[int]:
    return list(comparison.slots.order_by("position").values_list("candidate_id", flat=True))


def _judge(comparison: Comparison, first: int, second: int) -> Judgment:
    judgment = Judgment.objects.create(
        comparison=comparison,
        annotator=UserFactory(),
        ordering=[[first], [second]],
        submission_token=uuid.uuid4().hex,
    )
    Comparison.objects.filter(pk=comparison.pk).update(judgment_count=comparison.judgments.count())
    return judgment


def _next(project: Project, annotator) -> int:  # noqa: ANN001
    lease = comparison_lease(project=project, annotator=annotator)
    assignment_skip(project=project, annotator=annotator, assignment_id=lease.pk, reason="next")
    return lease.comparison_id


def test_split_votes_come_first_and_a_new_judgment_reranks_at_once(project: Project, bob, charlie) -> None:
    project = project_update(project=project, overlap=4, queue_order="disagreement")
    agreed, split, fresh = (make_comparison(project=project) for _ in range(3))
    gold = make_comparison(project=project, gold_ordering=[[1]])
    a, b = _ids(agreed)
    _judge(agreed, a, b)
    _judge(agreed, a, b)
    c, d = _ids(split)
    _judge(split, c, d)
    _judge(split, d, c)
    queue_priorities_refresh(project=project)
    state = queue_state(project=project)
    assert (state.ranked, state.comparisons) == (1, 3)
    assert Comparison.objects.get(pk=gold.pk).priority == 0
    assert _next(project, bob) == split.pk

    # Then the default order among the equal ones: fewest judgments first.
    assert [_next(project, charlie), _next(project, charlie)] == [split.pk, fresh.pk]
    # charlie disagrees with the agreed pair: split 2–1 now, it comes before the fresh one.
    lease = comparison_lease(project=project, annotator=charlie)
    assert lease.comparison_id == agreed.pk
    judgment = judgment_submit(
        project=project,
        annotator=charlie,
        assignment_id=lease.pk,
        submission_token=uuid.uuid4().hex,
        answer=make_answer(project=project, ordering=[[b], [a]]),
    )
    assert Comparison.objects.get(pk=agreed.pk).priority == 333
    assert _next(project, UserFactory(username="dave")) == split.pk
    judgment_edit(
        project=project,
        annotator=charlie,
        judgment_id=judgment.pk,
        answer=make_answer(project=project, ordering=[[a], [b]]),
    )
    assert Comparison.objects.get(pk=agreed.pk).priority == 0
    assert Comparison.objects.get(pk=fresh.pk).priority == 0


def test_imported_judgments_count_under_the_disagreement_order(project: Project) -> None:
    project = project_update(project=project, queue_order="disagreement")
    rows = [
        {"prompt": "Say hi", "chosen": "Hello!", "rejected": "hi"},
        {"prompt": "Say hi", "chosen": "hi", "rejected": "Hello!"},
    ]
    lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
    data_import(project=project, file=io.BytesIO(lines), file_name="votes.jsonl", as_judgments=True)
    [comparison] = Comparison.objects.filter(project=project)
    assert comparison.judgments.count() == 2 and comparison.priority == 500


def test_settings_api_sets_the_queue_order_with_field_named_errors(
    project: Project, alice, bob, run_on_commit
) -> None:
    version = reward_version(project)
    close, wide = make_comparison(project=project), make_comparison(project=project)
    score(version, close, 0.1, 0.0)
    score(version, wide, 3.0, 0.0)
    policy = ModelVersionFactory(name="p", path="/p", method="dpo", base="m")
    elsewhere = reward_version(ProjectFactory())
    url = reverse("api:project-detail", args=[project.slug])
    api = APIClient()
    api.force_authenticate(bob)
    assert api.patch(url, {"queue_order": "uncertainty"}, format="json").status_code == 403
    api.force_authenticate(alice)
    for body, field in (
        ({"queue_order": "random"}, "queue_order"),
        ({"queue_order": "uncertainty"}, "queue_model_version"),
        ({"queue_order": "uncertainty", "queue_model_version": policy.pk}, "queue_model_version"),
        ({"queue_order": "uncertainty", "queue_model_version": elsewhere.pk}, "queue_model_version"),
    ):
        response = api.patch(url, body, format="json")
        # A serializer's refusal is {field: [reasons]}, a service's {"field", "reason"}.
        detail = response.json()["details"][0]
        assert response.status_code == 400 and detail.get("field", next(iter(detail))) == field, body
    assert Project.objects.get(pk=project.pk).queue_order == "default"
    with run_on_commit():
        response = api.patch(
            url, {"queue_order": "uncertainty", "queue_model_version": version.pk}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert (response.json()["queue_order"], response.json()["queue_model_version"]) == (
        "uncertainty",
        version.pk,
    )
    assert Comparison.objects.get(pk=close.pk).priority > Comparison.objects.get(pk=wide.pk).priority > 0


def test_settings_page_sets_the_queue_order(project: Project, alice, run_on_commit) -> None:
    version = reward_version(project)
    close = make_comparison(project=project)
    score(version, close, 0.5, 0.4)
    make_comparison(project=project)
    url = reverse("project-settings", args=[project.slug])
    client = Client()
    client.force_login(alice)
    page = client.get(url)
    assert b'name="queue_order"' in page.content and f'value="{version.pk}"'.encode() in page.content
    refused = client.post(url, _settings_post(queue_order="uncertainty"))
    assert (
        refused.status_code == 200
        and b"the uncertainty order needs a reward model version" in refused.content
    )
    with run_on_commit():
        saved = client.post(url, _settings_post(queue_order="uncertainty", queue_model_version=version.pk))
    assert b"re-ranked for the uncertainty order in the background" in client.get(saved.url).content
    assert b"Queue order uncertainty: 1 of 2 comparisons ranked" in client.get(url).content
    project.refresh_from_db()
    assert (project.queue_order, project.queue_model_version) == ("uncertainty", version)
    assert Comparison.objects.get(pk=close.pk).priority == 1


def test_a_rerank_runs_again_when_the_order_changed_during_its_pass(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = reward_version(project)
    close = make_comparison(project=project)
    score(version, close, 0.1, 0.0)
    Project.objects.filter(pk=project.pk).update(queue_order="uncertainty", queue_model_version=version)
    passes = []

    def refresh_while_an_admin_switches_back(*, project: Project) -> int:
        passes.append(project.queue_order)
        changed = queue_priorities_refresh(project=project)
        if len(passes) == 1:
            Project.objects.filter(pk=project.pk).update(queue_order="default", queue_model_version=None)
        return changed

    monkeypatch.setattr(queueing, "queue_priorities_refresh", refresh_while_an_admin_switches_back)
    queueing.queue_rerank(project_id=project.pk)
    assert passes == ["uncertainty", "default"]
    assert Comparison.objects.get(pk=close.pk).priority == 0


@pytest.mark.integration
def test_the_worker_reranks_the_queue_after_a_settings_change(
    celery_worker_process, transactional_db: None
) -> None:
    project = ProjectFactory()
    admin = member(project, "alice", Membership.Role.ADMIN)
    version = reward_version(project)
    close, wide = make_comparison(project=project), make_comparison(project=project)
    score(version, close, 0.1, 0.0)
    score(version, wide, 3.0, 0.0)
    api = APIClient()
    api.force_authenticate(admin)
    response = api.patch(
        reverse("api:project-detail", args=[project.slug]),
        {"queue_order": "uncertainty", "queue_model_version": version.pk},
        format="json",
    )
    assert response.status_code == 200
    wait_until(lambda: queue_state(project=project).ranked >= 2, what="the worker to re-rank the queue")
    assert Comparison.objects.get(pk=close.pk).priority > Comparison.objects.get(pk=wide.pk).priority > 0
