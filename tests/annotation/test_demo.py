"""The shipped demo: its data file is valid and varied, and loading it builds the demo projects once."""

from __future__ import annotations

import io
import json
from math import comb
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory

from annotation.models import Candidate, Comparison, ImportBatch, Judgment, Membership, Project, Prompt
from annotation.services.demo import (
    DEMO_LOGINS,
    LABELLED,
    LOOP,
    LOOP_ROUND0_LINES,
    PAIRWISE,
    RANKING,
    demo_lines,
    demo_load,
    demo_preference_rows,
)
from annotation.services.exporting import ExportSpec, export_write

DEMO_FILE = Path(__file__).resolve().parents[2] / "annotation" / "demo" / "demo.jsonl"
ROLES = {"system", "user", "assistant"}


@pytest.fixture(scope="module")
def file_lines() -> list[dict]:
    return [json.loads(line) for line in DEMO_FILE.read_text(encoding="utf-8").splitlines()]


def _messages(line: dict) -> list[dict]:
    prompt = line["prompt"]
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt


def test_every_demo_line_is_a_valid_native_line(file_lines: list[dict]) -> None:
    ids = [line["id"] for line in file_lines]
    assert len(ids) == len(set(ids))
    for line in file_lines:
        assert set(line) == {"id", "prompt", "candidates", "metadata"}, line["id"]
        messages = _messages(line)
        assert messages[-1]["role"] == "user", line["id"]
        assert all(m["role"] in ROLES and m["content"].strip() for m in messages), line["id"]
        assert all(m["role"] != "system" for m in messages[1:]), line["id"]
        candidates = line["candidates"]
        assert 2 <= len(candidates) <= 4, line["id"]
        texts = [c["text"] for c in candidates]
        assert all(t.strip() == t and t for t in texts), line["id"]
        assert len(set(texts)) == len(texts), line["id"]
        models = [c["model"] for c in candidates]
        assert len(set(models)) == len(models), line["id"]
        # Best first: the recorded quality order is the file order.
        assert line["metadata"]["quality_order"] == models, line["id"]


def test_demo_is_large_and_varied_enough(file_lines: list[dict]) -> None:
    assert len(file_lines) >= 48
    assert sum(len(line["candidates"]) >= 3 for line in file_lines) >= 28
    categories = {line["metadata"]["category"] for line in file_lines}
    assert {"coding", "math", "advice", "writing", "science", "chat", "tables"} <= categories

    multi_turn = [line for line in file_lines if len(_messages(line)) > 1]
    assert len(multi_turn) >= 4
    assert sum(_messages(line)[0]["role"] == "system" for line in multi_turn) >= 3

    def with_table(line: dict) -> bool:
        text = json.dumps(line, ensure_ascii=False)
        return "| --- |" in text or "| ---: |" in text

    def with_code(line: dict) -> bool:
        return any("```" in c["text"] for c in line["candidates"])

    assert sum(with_table(line) for line in file_lines) >= 4
    assert sum(with_code(line) for line in file_lines) >= 8


def _row_counts() -> dict[str, int]:
    rows = [get_user_model(), Project, Membership, ImportBatch, Prompt, Candidate, Comparison, Judgment]
    return {model.__name__: model.objects.count() for model in rows}


@pytest.mark.django_db
def test_demo_load_builds_the_four_projects_from_the_demo_file() -> None:
    summary = demo_load()

    assert (summary.users_created, summary.projects_created) == (3, 4)
    lines, ranked = demo_lines(), demo_lines(min_candidates=3)

    pairwise = Project.objects.get(slug=PAIRWISE)
    assert (pairwise.mode, pairwise.overlap, pairwise.asks_demonstrations, pairwise.hides_model_names) == (
        Project.Mode.PAIRWISE,
        2,
        True,
        True,
    )
    assert pairwise.rating_criteria == ["helpfulness", "harmlessness", "honesty"]
    assert pairwise.guidelines.startswith("# Guidelines")
    assert pairwise.prompts.count() == len(lines)
    assert Candidate.objects.filter(prompt__project=pairwise).count() == sum(
        len(x["candidates"]) for x in lines
    )
    # Every pair of a prompt's candidates is one comparison (the project's default pairing).
    assert pairwise.comparisons.count() == sum(comb(len(x["candidates"]), 2) for x in lines)
    with_system = [
        x["prompt"] for x in lines if isinstance(x["prompt"], list) and x["prompt"][0]["role"] == "system"
    ]
    stored = [p.messages for p in pairwise.prompts.all() if p.messages[0]["role"] == "system"]
    assert sorted(map(repr, stored)) == sorted(map(repr, with_system))

    ranking = Project.objects.get(slug=RANKING)
    assert (ranking.mode, ranking.candidates_per_comparison) == (Project.Mode.RANKING, 3)
    assert ranking.prompts.count() == len(ranked)
    assert ranking.comparisons.count() >= len(ranked)
    assert all(c.slots.count() == 3 for c in ranking.comparisons.all())

    labelled = Project.objects.get(slug=LABELLED)
    judgments = Judgment.objects.filter(comparison__project=labelled)
    assert (
        judgments.count() == sum(comb(len(x["candidates"]), 2) for x in lines) == len(demo_preference_rows())
    )
    assert labelled.comparisons.count() == judgments.count()
    assert set(judgments.values_list("source", flat=True)) == {Judgment.Source.IMPORTED}
    # The better candidate (earlier in the file) is the chosen one in every imported judgment.
    rank = {c["text"]: i for x in lines for i, c in enumerate(x["candidates"])}
    texts = dict(Candidate.objects.filter(prompt__project=labelled).values_list("id", "text"))
    assert all(rank[texts[j.ordering[0][0]]] < rank[texts[j.ordering[1][0]]] for j in judgments)


@pytest.mark.django_db
def test_demo_users_log_in_with_the_printed_passwords_and_hold_their_roles() -> None:
    demo_load()

    for login in DEMO_LOGINS:
        # With the request, as the login doors call it (django-axes refuses an authenticate() without one).
        request = RequestFactory().post("/login/")
        user = authenticate(request, username=login.username, password=login.password)
        assert user is not None and user.is_superuser == login.is_superuser
    roles = set(Membership.objects.values_list("project__slug", "user__username", "role"))
    admin = {(slug, "admin", "admin") for slug in (PAIRWISE, RANKING, LABELLED, LOOP)}
    annotators = {
        (slug, name, "annotator")
        for slug in (PAIRWISE, RANKING, LOOP)
        for name in ("annotator1", "annotator2")
    }
    assert roles == admin | annotators


@pytest.mark.django_db
def test_loading_the_demo_again_adds_nothing() -> None:
    demo_load()
    before = _row_counts()

    summary = demo_load()

    assert (summary.users_created, summary.projects_created) == (0, 0)
    assert _row_counts() == before


@pytest.mark.django_db
def test_load_demo_command_prints_the_url_and_the_logins() -> None:
    out = io.StringIO()

    call_command("load_demo", "--url", "http://127.0.0.1:8123/", stdout=out)

    text = out.getvalue()
    assert "http://127.0.0.1:8123/" in text
    assert f"{LABELLED}: {len(demo_lines())} prompts" in text
    for login in DEMO_LOGINS:
        assert login.username in text and login.password in text


@pytest.mark.django_db
def test_demo_labelled_exports_as_trl_preferences_right_away() -> None:
    demo_load()
    out = io.BytesIO()

    result = export_write(
        projects=[Project.objects.get(slug=LABELLED)], spec=ExportSpec(conversational=True), out=out
    )

    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    lines = demo_lines()
    assert result.rows == len(rows) == sum(comb(len(x["candidates"]), 2) for x in lines)
    rank = {c["text"]: i for x in lines for i, c in enumerate(x["candidates"])}
    assert all(rank[r["chosen"][0]["content"]] < rank[r["rejected"][0]["content"]] for r in rows)
    assert all(r["prompt"][-1]["role"] == "user" for r in rows)


@pytest.mark.django_db
def test_demo_loop_has_round_0_to_judge_and_held_out_prompts_for_rounds_1_to_3() -> None:
    demo_load()
    loop = Project.objects.get(slug=LOOP)

    round0 = demo_lines()[:LOOP_ROUND0_LINES]
    assert loop.comparisons.filter(round=0).count() == sum(comb(len(x["candidates"]), 2) for x in round0)
    assert not loop.comparisons.exclude(round=0).exists()
    held_out = Prompt.objects.filter(project=loop, round__gte=1)
    assert sorted(held_out.values_list("round", flat=True).distinct()) == [1, 2, 3]
    assert held_out.count() == 18 and not Candidate.objects.filter(prompt__in=held_out).exists()
