"""The export service: every kind, both file formats, filters, ties, ranking expansion."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Comparison, Demonstration, Judgment, Project
from annotation.services.exporting import (
    ExportSpec,
    annotator_pseudonym,
    export_chunks,
    export_rows,
    export_spec_parse,
    export_write,
)
from rankwise.errors import ValidationFailed
from tests.factories import make_comparison

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """The named users' passwords are never checked here: skip the deliberately slow hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def judge(comparison: Comparison, annotator, ordering: list[list[int]], **fields: object) -> Judgment:
    return Judgment.objects.create(
        comparison=comparison,
        annotator=annotator,
        ordering=ordering,
        submission_token=uuid.uuid4().hex,
        **fields,
    )


def ids(comparison: Comparison) -> list[int]:
    return list(comparison.slots.order_by("position").values_list("candidate_id", flat=True))


def texts(comparison: Comparison) -> dict[int, str]:
    return {slot.candidate_id: slot.candidate.text for slot in comparison.slots.select_related("candidate")}


def rows(project: Project, **spec: object) -> list[dict]:
    return list(export_rows(projects=[project], spec=ExportSpec(**spec)))


def written(project: Project, **spec: object) -> tuple[list[dict], bytes]:
    out = io.BytesIO()
    result = export_write(projects=[project], spec=ExportSpec(**spec), out=out)
    data = out.getvalue()
    assert result.bytes == len(data)
    if spec.get("file_format") == "parquet":
        read = pq.read_table(io.BytesIO(data)).to_pylist()
    else:
        read = [json.loads(line) for line in data.decode().splitlines()]
    assert result.rows == len(read)
    return read, data


def test_pairwise_judgment_becomes_a_trl_preference_row(project: Project, alice) -> None:
    comparison = make_comparison(project=project)
    a, b = ids(comparison)
    judge(comparison, alice, [[b], [a]])
    text = texts(comparison)
    assert rows(project) == [
        {
            "prompt": comparison.prompt.messages[0]["content"],
            "chosen": text[b],
            "rejected": text[a],
            "comparison_id": comparison.pk,
        }
    ]


def test_conversational_rows_carry_message_lists(project: Project, alice) -> None:
    comparison = make_comparison(project=project)
    comparison.prompt.messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is 2+2?"},
    ]
    comparison.prompt.save()
    a, b = ids(comparison)
    judge(comparison, alice, [[a], [b]])
    text = texts(comparison)
    [row] = rows(project, conversational=True)
    assert row["prompt"] == comparison.prompt.messages
    assert row["chosen"] == [{"role": "assistant", "content": text[a]}]
    assert row["rejected"] == [{"role": "assistant", "content": text[b]}]
    [standard] = rows(project)
    assert standard["prompt"] == "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello!\n\nUser: What is 2+2?"


def test_ranking_expands_to_all_or_adjacent_pairs(project: Project, alice) -> None:
    comparison = make_comparison(project=project, candidates=4)
    a, b, c, d = ids(comparison)
    judge(comparison, alice, [[c], [a], [d], [b]])
    text = texts(comparison)
    pairs = [(r["chosen"], r["rejected"]) for r in rows(project)]
    expected = [(c, a), (c, d), (c, b), (a, d), (a, b), (d, b)]
    assert pairs == [(text[x], text[y]) for x, y in expected]
    adjacent = [(r["chosen"], r["rejected"]) for r in rows(project, ranking_pairs="adjacent")]
    assert adjacent == [(text[x], text[y]) for x, y in [(c, a), (a, d), (d, b)]]


def test_ties_are_dropped_or_kept_with_metadata(project: Project, alice) -> None:
    tie = make_comparison(project=project)
    ranked = make_comparison(project=project, candidates=3)
    a, b = ids(tie)
    x, y, z = ids(ranked)
    judge(tie, alice, [[a, b]])
    judge(ranked, alice, [[y, x], [z]])
    assert [r["comparison_id"] for r in rows(project)] == [ranked.pk, ranked.pk]
    kept = rows(project, ties="keep")
    assert [(r["comparison_id"], r["metadata"]) for r in kept] == [
        (tie.pk, {"tie": True}),
        (ranked.pk, {"tie": True}),
        (ranked.pk, {"tie": False}),
        (ranked.pk, {"tie": False}),
    ]
    # Tied candidates are listed in slot order, so the kept tie row is stable.
    assert kept[0]["chosen"] == texts(tie)[a]


def test_one_row_per_judgment_or_per_comparison_by_majority(project: Project, alice, bob, charlie) -> None:
    comparison = make_comparison(project=project)
    a, b = ids(comparison)
    judge(comparison, alice, [[a], [b]])
    judge(comparison, bob, [[b], [a]])
    judge(comparison, charlie, [[a], [b]])
    text = texts(comparison)
    assert [r["chosen"] for r in rows(project)] == [text[a], text[b], text[a]]
    assert [r["chosen"] for r in rows(project, aggregate="majority")] == [text[a]]


def test_a_split_majority_is_a_tie(project: Project, alice, bob) -> None:
    comparison = make_comparison(project=project)
    a, b = ids(comparison)
    judge(comparison, alice, [[a], [b]])
    judge(comparison, bob, [[b], [a]])
    assert rows(project, aggregate="majority") == []
    assert rows(project, aggregate="majority", ties="keep")[0]["metadata"] == {"tie": True}


def test_rows_come_in_comparison_then_judgment_order(project: Project, alice, bob) -> None:
    first, second = make_comparison(project=project), make_comparison(project=project)
    judge(second, alice, [[ids(second)[0]], [ids(second)[1]]])
    judge(first, bob, [[ids(first)[0]], [ids(first)[1]]])
    judge(first, alice, [[ids(first)[1]], [ids(first)[0]]])
    got = rows(project, kind="judgments")
    assert [r["comparison_id"] for r in got] == [first.pk, first.pk, second.pk]
    assert got[0]["judgment_id"] < got[1]["judgment_id"]


def test_filters_by_annotator_date_and_source(project: Project, alice, bob) -> None:
    comparisons = [make_comparison(project=project) for _ in range(3)]
    for c in comparisons:
        judge(c, alice, [[ids(c)[0]], [ids(c)[1]]])
    old = judge(comparisons[0], bob, [[ids(comparisons[0])[1]], [ids(comparisons[0])[0]]])
    judge(comparisons[1], None, [[ids(comparisons[1])[0]], [ids(comparisons[1])[1]]], source="imported")
    Judgment.objects.filter(pk=old.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))

    def annotators(**spec: object) -> list[str | None]:
        return [r["annotator"] for r in rows(project, kind="judgments", **spec)]

    alice_p, bob_p = annotator_pseudonym(alice.pk), annotator_pseudonym(bob.pk)
    assert sorted(annotators(), key=str) == sorted([alice_p] * 3 + [bob_p, None], key=str)
    assert annotators(annotator_ids=(bob.pk,)) == [bob_p]
    assert None not in annotators(include_imported=False)
    assert bob_p not in annotators(exclude_annotator_ids=(bob.pk,))
    assert annotators(date_to=datetime(2021, 1, 1, tzinfo=UTC)) == [bob_p]
    recent = annotators(date_from=datetime.now(UTC) - timedelta(hours=1))
    assert bob_p not in recent and len(recent) == 4


def test_min_agreement_keeps_comparisons_annotators_agree_on(project: Project, alice, bob, charlie) -> None:
    agreed, split, single = (make_comparison(project=project) for _ in range(3))
    for c, orders in ((agreed, [0, 0]), (split, [0, 1])):
        for user, winner in zip((alice, bob), orders, strict=True):
            judge(c, user, [[ids(c)[winner]], [ids(c)[1 - winner]]])
    judge(single, charlie, [[ids(single)[0]], [ids(single)[1]]])
    assert {r["comparison_id"] for r in rows(project, min_agreement=0.5)} == {agreed.pk}
    assert {r["comparison_id"] for r in rows(project, min_agreement=0.0)} == {agreed.pk, split.pk}
    # Excluding the dissenting annotator leaves one judgment: agreement is then unmeasured.
    assert rows(project, min_agreement=0.5, exclude_annotator_ids=(bob.pk,)) == []


def test_unpaired_rows_label_candidates_by_mean_rating(project: Project, alice, bob) -> None:
    comparison = make_comparison(project=project)
    a, b = ids(comparison)
    text = texts(comparison)
    ratings_alice = {str(a): {"helpful": 7, "harmless": 6}, str(b): {"helpful": 2, "harmless": 3}}
    ratings_bob = {str(a): {"helpful": 3, "harmless": 3}, str(b): {"helpful": 5, "harmless": 4}}
    judge(comparison, alice, [[a], [b]], ratings=ratings_alice)
    judge(comparison, bob, [[b], [a]], ratings=ratings_bob)
    got = rows(project, kind="unpaired", rating_threshold=4.0)
    assert [(r["completion"], r["label"]) for r in got] == [
        (text[a], True),
        (text[b], False),
        (text[a], False),
        (text[b], True),
    ]
    assert got[0]["prompt"] == comparison.prompt.messages[0]["content"]
    # By majority: a = (6.5 + 3) / 2 = 4.75, b = (2.5 + 4.5) / 2 = 3.5.
    majority = rows(project, kind="unpaired", rating_threshold=4.0, aggregate="majority")
    assert [(r["completion"], r["label"]) for r in majority] == [(text[a], True), (text[b], False)]
    # Without a threshold, the midpoint of the project's 1..7 scale (4.0) applies.
    assert rows(project, kind="unpaired") == got


def test_sft_rows_are_the_prompt_messages_and_the_demonstration(project: Project, alice, bob) -> None:
    comparison = make_comparison(project=project)
    first = Demonstration.objects.create(prompt=comparison.prompt, annotator=alice, text="The best answer.")
    Demonstration.objects.create(prompt=comparison.prompt, annotator=bob, text="Another answer.")
    got = rows(project, kind="sft")
    assert got[0] == {
        "messages": comparison.prompt.messages + [{"role": "assistant", "content": "The best answer."}],
        "prompt_id": comparison.prompt_id,
        "demonstration_id": first.pk,
    }
    assert len(got) == 2
    assert [r["demonstration_id"] for r in rows(project, kind="sft", exclude_annotator_ids=(bob.pk,))] == [
        first.pk
    ]


def test_judgment_rows_hold_the_raw_decision_without_usernames(project: Project, alice) -> None:
    comparison = make_comparison(project=project)
    a, b = ids(comparison)
    judge(
        comparison, alice, [[b], [a]], strength="clearly", ratings={str(a): {"helpful": 2}},
        rationale="B is right.", flags=["unsure"], presented_order=[b, a], time_spent_ms=4200,
    )  # fmt: skip
    [row] = rows(project, kind="judgments")
    assert row["annotator"] == annotator_pseudonym(alice.pk) != annotator_pseudonym(alice.pk + 1)
    assert "alice" not in json.dumps(row)
    assert row["ordering"] == [[b], [a]] and row["presented_order"] == [b, a]
    assert row["ratings"] == [{"candidate_id": a, "criterion": "helpful", "score": 2.0}]
    assert (row["strength"], row["rationale"], row["flags"], row["time_spent_ms"]) == (
        "clearly", "B is right.", ["unsure"], 4200,
    )  # fmt: skip
    assert [c["id"] for c in row["candidates"]] == [a, b]


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "preference"},
        {"kind": "preference", "conversational": True, "ties": "keep"},
        {"kind": "unpaired", "rating_threshold": 4.0},
        {"kind": "unpaired", "conversational": True, "rating_threshold": 4.0},
        {"kind": "sft"},
        {"kind": "judgments"},
    ],
)
@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_every_kind_round_trips_through_both_formats(project: Project, alice, bob, spec, file_format) -> None:
    for n in range(3):
        comparison = make_comparison(project=project, candidates=3 if n == 2 else 2)
        order = ids(comparison)
        ratings = {str(c): {"helpful": 1 + 3 * i} for i, c in enumerate(order)}
        judge(comparison, alice, [[c] for c in order], ratings=ratings, presented_order=order)
        judge(comparison, bob, [order], rationale="all equal", flags=["both_bad"])
        Demonstration.objects.create(prompt=comparison.prompt, annotator=alice, text=f"Demo {n} ✓")
    expected = rows(project, **spec)
    assert expected
    read, data = written(project, file_format=file_format, **spec)
    assert read == expected
    # Exports are deterministic: the same data gives the same bytes.
    assert written(project, file_format=file_format, **spec)[1] == data


def test_an_empty_export_is_a_valid_file(project: Project) -> None:
    for file_format in ("jsonl", "parquet"):
        assert written(project, file_format=file_format)[0] == []


def test_exports_span_several_projects_and_only_those(project: Project, alice) -> None:
    other = Project.objects.create(name="Other", slug="other")
    third = Project.objects.create(name="Third", slug="third")
    for p in (project, other, third):
        c = make_comparison(project=p)
        judge(c, alice, [[ids(c)[0]], [ids(c)[1]]])
    got = list(export_rows(projects=[project, other], spec=ExportSpec()))
    assert {Comparison.objects.get(pk=r["comparison_id"]).project for r in got} == {project, other}


def test_invalid_spec_names_each_field() -> None:
    with pytest.raises(ValidationFailed) as info:
        ExportSpec(kind="pairs", ties="maybe", min_agreement=1.5).validate()
    assert [d["field"] for d in info.value.details] == ["kind", "ties", "min_agreement"]
    with pytest.raises(ValidationFailed, match="majority applies to preference and unpaired"):
        ExportSpec(kind="judgments", aggregate="majority").validate()
    with pytest.raises(ValidationFailed, match="min_agreement applies to judgments"):
        ExportSpec(kind="sft", min_agreement=0.5).validate()


def test_door_parameters_parse_into_a_spec() -> None:
    spec = export_spec_parse(
        params={"kind": ["unpaired"], "format": ["parquet"], "conversational": ["true"],
                "from": ["2026-11-01"], "to": ["2026-11-30"], "annotator": ["3,4", "5"],
                "min_agreement": ["0.6"]}
    )  # fmt: skip
    assert spec == ExportSpec(
        kind="unpaired", file_format="parquet", conversational=True,
        date_from=datetime(2026, 11, 1, tzinfo=UTC), date_to=datetime(2026, 12, 1, tzinfo=UTC),
        annotator_ids=(3, 4, 5), min_agreement=0.6,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": ["csv"]}, "format"),
        ({"min_agreement": ["high"]}, "min_agreement"),
        ({"from": ["yesterday"]}, "from"),
        ({"annotator": ["bob"]}, "annotator"),
        ({"conversational": ["perhaps"]}, "conversational"),
        ({"from": ["2026-11-02"], "to": ["2026-11-01"]}, "to"),
        ({"colour": ["red"]}, "colour"),
    ],
)
def test_bad_door_parameters_name_the_parameter(params: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        export_spec_parse(params=params)
    assert [d["field"] for d in info.value.details] == [field]
    assert field in info.value.message


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_streamed_chunks_are_the_written_file(
    project: Project, alice, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    monkeypatch.setattr("annotation.services.exporting.PARQUET_ROW_GROUP", 2)
    for _ in range(5):
        c = make_comparison(project=project)
        judge(c, alice, [[ids(c)[0]], [ids(c)[1]]])
    spec = ExportSpec(file_format=file_format)
    chunks = list(export_chunks(projects=[project], spec=spec))
    out = io.BytesIO()
    export_write(projects=[project], spec=spec, out=out)
    assert b"".join(chunks) == out.getvalue()
    if file_format == "parquet":
        assert len(chunks) > 2
        assert pq.ParquetFile(io.BytesIO(out.getvalue())).metadata.num_row_groups == 3


def test_queries_grow_with_chunks_not_with_rows(
    project: Project, alice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("annotation.services.exporting.CHUNK_COMPARISONS", 4)
    for _ in range(8):
        c = make_comparison(project=project, candidates=3)
        judge(c, alice, [[i] for i in ids(c)])
    # Two full chunks of 4 comparisons: 4 queries each (window with prompts, judgments, slots,
    # settling reviews), then one window query that finds nothing more. On PostgreSQL each chunk is
    # its own transaction without parallel plans: a savepoint here (the test's transaction is open)
    # and a SET LOCAL.
    with CaptureQueriesContext(connection) as queries:
        assert len(rows(project)) == 24
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements.count("SELECT") == 9
    chunks = 3 if connection.vendor == "postgresql" else 0
    assert statements.count("SET") == statements.count("SAVEPOINT") == chunks


def test_round_filter_keeps_those_rounds_and_arena_battles_stay_out_unless_asked(
    project: Project, alice
) -> None:
    by_round = {}
    for round in (0, 1, 2):
        comparison = make_comparison(project=project, round=round)
        judge(comparison, alice, [[ids(comparison)[0]], [ids(comparison)[1]]])
        Demonstration.objects.create(prompt=comparison.prompt, comparison=comparison, text=f"r{round}")
        by_round[round] = comparison.pk
    arena = make_comparison(project=project, round=1, arena=True)
    judge(arena, alice, [[ids(arena)[1]], [ids(arena)[0]]])
    Demonstration.objects.create(prompt=arena.prompt, comparison=arena, text="arena")

    assert {r["comparison_id"] for r in rows(project)} == set(by_round.values())
    spec = export_spec_parse(params={"round": ["2, 0"]})
    assert spec.rounds == (0, 2)
    assert {r["comparison_id"] for r in export_rows(projects=[project], spec=spec)} == {
        by_round[0],
        by_round[2],
    }
    assert {r["comparison_id"] for r in rows(project, rounds=(1,), include_arena=True)} == {
        by_round[1],
        arena.pk,
    }
    assert [r["messages"][-1]["content"] for r in rows(project, kind="sft", rounds=(1,))] == ["r1"]
    with pytest.raises(ValidationFailed) as caught:
        export_spec_parse(params={"round": ["one"]})
    assert caught.value.details[0]["field"] == "round"
