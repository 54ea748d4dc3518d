"""The rounds page on the demo-loop project: each step's form, posted as a browser would, reaches its
door and service (snapshot round n → train on it → arena against the previous model → generate round
n+1), and the page and API report each round's counts, agreement, snapshots, runs and versions."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotation.models import AuditEvent, Project
from annotation.services.demo import LOOP, demo_load
from annotation.services.simulating import annotators_simulate
from tests.factories import PromptFactory
from training.jobs.runs import RunExecution
from training.models import Arena, DatasetSnapshot, GenerationJob, Run
from training.services.snapshots import snapshot_build

pytestmark = pytest.mark.django_db


class _Forms(HTMLParser):
    """The page's forms by id: (action, [(name, value)]) with what a browser would send by default
    (hidden and text inputs, checked radios, selected or first options)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        self._form: str | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "id" in a:
            self._form = a["id"]
            self.forms[self._form] = (a.get("action", ""), [])
        elif self._form is None:
            return
        fields = self.forms[self._form][1]
        if tag == "input" and "name" in a and not ("disabled" in a and a.get("type") == "radio"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = (a["name"], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options = self._select
            chosen = [v for v, selected in options if selected] or [v for v, _ in options[:1]]
            self.forms[self._form][1].extend((name, v) for v in chosen)
            self._select = None


def _forms(client: Client, url: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    response = client.get(url)
    assert response.status_code == 200
    parser = _Forms()
    parser.feed(response.content.decode())
    return parser.forms


def _submit(client: Client, form: tuple[str, list[tuple[str, str]]]):
    action, fields = form
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    return client.post(action, data)


def test_one_action_per_step_walks_demo_loop_through_a_round(data_dir: Path) -> None:
    demo_load()
    project = Project.objects.get(slug=LOOP)
    annotators_simulate(project=project, behaviours={"careful": 1})
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    url = reverse("training:rounds", args=[project.slug])

    forms = _forms(client, url)
    assert {"generate-form", "snapshot-form"} <= set(forms) and "arena-form" not in forms
    assert "train-dpo" not in forms, "nothing to train on before round 0 is snapshot"
    assert _submit(client, forms["snapshot-form"]).status_code == 302
    snapshot = DatasetSnapshot.objects.get()
    assert snapshot.filters == {"round": "0"} and snapshot.rounds == [0]
    snapshot = snapshot_build(snapshot_id=snapshot.pk)  # what the default worker does
    assert snapshot.train_rows + snapshot.eval_rows == project.comparisons.filter(round=0).count()

    forms = _forms(client, url)
    for step in ("train-reward", "train-dpo"):
        assert _submit(client, forms[step]).status_code == 302, step
    reward, dpo = Run.objects.order_by("id")
    assert [(r.method, r.round, r.snapshot_id) for r in (reward, dpo)] == [
        ("reward", 0, snapshot.pk),
        ("dpo", 0, snapshot.pk),
    ]
    assert dpo.base_model == reward.base_model != "" and dpo.base_version is None
    for run in (reward, dpo):  # what the gpu worker does at the end of a run that succeeded
        (Path(run.output_dir) / "final").mkdir(parents=True)
        (Path(run.output_dir) / "final" / "adapter_model.safetensors").write_bytes(b"weights")
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
        RunExecution(run).end(Run.Status.SUCCEEDED, "")
    policy = dpo.model_version

    forms = _forms(client, url)
    assert dict(forms["train-ppo"][1])["reward_version"] == str(reward.model_version.pk)
    assert dict(forms["train-ppo"][1])["base_version"] == str(policy.pk)
    assert _submit(client, forms["arena-form"]).status_code == 302
    arena = Arena.objects.get()
    assert (arena.round, len(arena.prompt_ids)) == (0, 6)
    assert [job.source_name for job in arena.generation_jobs.order_by("id")] == [policy.name, dpo.base_model]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ARENA_LAUNCH, project=project).count() == 1

    assert _submit(client, forms["generate-form"]).status_code == 302
    job = GenerationJob.objects.get(arena__isnull=True)
    assert (job.model_version, job.round, job.k) == (policy, 1, 2)
    assert sorted(job.prompt_ids) == sorted(project.prompts.filter(round=1).values_list("id", flat=True))

    rounds = client.get(reverse("training-api:rounds", args=[project.slug])).json()
    assert (rounds["current"], rounds["next"]) == (0, 1)
    by_round = {row["round"]: row for row in rounds["rounds"]}
    assert sorted(by_round) == [0, 1, 2, 3]
    zero = by_round[0]
    assert zero["judgments"] == zero["comparisons"] > 0 and zero["open_comparisons"] == 0
    assert zero["progress"]["fraction"] == 1.0 and zero["agreement"]["pairs_with_overlap"] == 0
    assert [s["id"] for s in zero["snapshots"]] == [snapshot.pk]
    assert {v["name"] for v in zero["model_versions"]} == {policy.name, reward.model_version.name}
    assert [a["id"] for a in zero["arenas"]] == [arena.pk]
    assert zero["policy"]["version"]["name"] == policy.name and zero["policy"]["against_previous"] is None
    assert (by_round[1]["prompts"], by_round[1]["comparisons"]) == (6, 0)
    page = client.get(url).content.decode()
    assert policy.name in page and "no arena yet" in page


def test_rounds_page_and_api_are_for_project_admins(project: Project, alice, bob, mallory) -> None:
    PromptFactory(project=project, round=2)
    client = Client()
    for name in ("training:rounds", "training-api:rounds"):
        url = reverse(name, args=[project.slug])
        client.force_login(bob)
        assert client.get(url).status_code == 403
        client.force_login(mallory)
        assert client.get(url).status_code == 404
        client.force_login(alice)
        assert client.get(url).status_code == 200
    data = client.get(reverse("training-api:rounds", args=[project.slug])).json()
    assert [row["round"] for row in data["rounds"]] == [0, 1, 2] and data["current"] == 0
