"""Synthetic annotators: their answers, and the command that lets them work through a project."""

from __future__ import annotations

import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Judgment, Project
from annotation.quality.simulation import simulated_ordering, true_order
from annotation.selectors.quality import project_quality_get
from tests.factories import make_comparison


def test_behaviours_answer_as_described() -> None:
    rng = random.Random(0)
    shown, truth = [7, 5, 9], [5, 9, 7]
    assert simulated_ordering(behaviour="left", shown=shown, truth=truth, rng=rng) == [[7], [5], [9]]
    careful = [
        simulated_ordering(behaviour="careful", shown=shown, truth=truth, rng=rng) for _ in range(1000)
    ]
    assert 850 < careful.count([[5], [9], [7]]) < 950
    # A careful slip swaps one adjacent pair only.
    assert {tuple(t[0] for t in o) for o in careful} <= {(5, 9, 7), (9, 5, 7), (5, 7, 9)}
    answers = {
        tuple(t[0] for t in simulated_ordering(behaviour="random", shown=shown, truth=truth, rng=rng))
        for _ in range(200)
    }
    assert len(answers) == 6
    with pytest.raises(ValueError, match="Unknown behaviour"):
        simulated_ordering(behaviour="sleepy", shown=shown, truth=truth, rng=rng)


def test_true_order_prefers_gold_then_the_prompts_quality_order_then_slots() -> None:
    models = {1: "small", 2: "large", 3: "mystery"}
    assert true_order(
        slots=[1, 2, 3], models=models, quality_order=["large", "small"], gold=[[3], [1, 2]]
    ) == [3, 1, 2]
    assert true_order(slots=[1, 2, 3], models=models, quality_order=["large", "small"], gold=None) == [
        2,
        1,
        3,
    ]
    assert true_order(slots=[1, 2, 3], models=models, quality_order=[], gold=None) == [1, 2, 3]


@pytest.mark.django_db
def test_command_fills_a_project_and_the_dashboard_tells_the_annotators_apart(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = Project.objects.create(name="Demo", slug="demo", overlap=4)
    for _ in range(14):
        comparison = make_comparison(project=project)
        prompt = comparison.prompt
        prompt.metadata = {"quality_order": ["model-1", "model-0"]}
        prompt.save()
    out = StringIO()
    call_command("simulate_annotators", "demo", careful=2, random=1, left=1, stdout=out)
    assert out.getvalue().splitlines() == [
        "sim-careful-1: 14 judgments",
        "sim-careful-2: 14 judgments",
        "sim-random-1: 14 judgments",
        "sim-left-1: 14 judgments",
    ]
    # Again: the queues are empty, nothing more is judged.
    call_command("simulate_annotators", "demo", careful=2, random=1, left=1, stdout=StringIO())
    assert Judgment.objects.filter(comparison__project=project).count() == 56
    report = project_quality_get(project=project)
    flags = {a["username"]: a["flags"] for a in report["annotators"]}
    assert "position bias" in flags["sim-left-1"] and "too fast" in flags["sim-random-1"]
    assert report["leaderboard"][0]["model"] == "model-1"


@pytest.mark.django_db
def test_annotators_take_turns_when_the_overlap_is_smaller_than_the_team(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = Project.objects.create(name="Demo", slug="demo", overlap=2)
    for _ in range(12):
        make_comparison(project=project)
    out = StringIO()
    call_command("simulate_annotators", "demo", careful=2, random=1, left=1, stdout=out)
    counts = [int(line.split(": ")[1].split()[0]) for line in out.getvalue().splitlines()]
    assert sum(counts) == 24 and counts == [6, 6, 6, 6]


@pytest.mark.django_db
def test_command_names_a_missing_project() -> None:
    with pytest.raises(CommandError, match="No project 'nope'"):
        call_command("simulate_annotators", "nope")
