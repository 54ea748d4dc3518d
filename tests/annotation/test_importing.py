"""The import service: every format, every kind of malformed input, dedupe and atomicity."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from typing import Any

import pytest
from django.db import connection

from annotation.models import (
    Candidate,
    Comparison,
    ImportBatch,
    Judgment,
    Project,
    Prompt,
)
from annotation.services import importing
from annotation.services.importing import (
    comparison_key,
    comparison_pairs_build,
    comparisons_build,
    data_import,
)
from rankwise.errors import ValidationFailed
from tests.factories import CandidateFactory, ProjectFactory, PromptFactory

pytestmark = pytest.mark.django_db

NATIVE = {
    "id": "q1",
    "prompt": "Name a prime number.",
    "system": "Be brief.",
    "candidates": [
        {"text": "2", "model": "small", "params": {"temperature": 0.7}},
        {"text": "Four.", "model": "tiny"},
        {"text": "Seven is prime.", "model": "large"},
    ],
    "metadata": {"topic": "math"},
}


def _jsonl(*rows: Any) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _import(project: Project, data: bytes, **kwargs: Any) -> ImportBatch:
    return data_import(project=project, file=io.BytesIO(data), file_name="data.jsonl", **kwargs)


def _errors(project: Project, data: bytes, **kwargs: Any) -> list[dict]:
    with pytest.raises(ValidationFailed) as caught:
        _import(project, data, **kwargs)
    assert not Prompt.objects.exists() and not ImportBatch.objects.exists()
    assert not Candidate.objects.exists() and not Comparison.objects.exists()
    return caught.value.details


def _slots(comparison: Comparison) -> list[str]:
    return [slot.candidate.text for slot in comparison.slots.select_related("candidate")]


def test_native_line_becomes_a_prompt_with_candidates_and_every_pair(project: Project) -> None:
    data = _jsonl(NATIVE)
    batch = _import(project, data)

    assert batch.file_sha256 == hashlib.sha256(data).hexdigest()
    assert (batch.format, batch.lines, batch.prompts_created) == ("native", 1, 1)
    assert (batch.candidates_created, batch.comparisons_created, batch.judgments_created) == (3, 3, 0)
    prompt = Prompt.objects.get()
    assert prompt.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a prime number."},
    ]
    assert (prompt.external_id, prompt.metadata) == ("q1", {"topic": "math"})
    first = prompt.candidates.get(text="2")
    assert (first.model_name, first.generation_params) == ("small", {"temperature": 0.7})
    assert sorted(_slots(c) for c in Comparison.objects.all()) == [
        ["2", "Four."],
        ["2", "Seven is prime."],
        ["Four.", "Seven is prime."],
    ]
    comparison = Comparison.objects.first()
    assert comparison.key == comparison_key(s.candidate_id for s in comparison.slots.all())


def test_native_conversation_prompt_keeps_its_turns(project: Project) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    _import(project, _jsonl({"prompt": messages, "candidates": [{"text": "4"}, {"text": "5"}]}))
    assert Prompt.objects.get().messages == messages


def test_project_pairing_strategy_decides_the_pairs(project: Project) -> None:
    project.pairing = Project.Pairing.FIRST_VS_REST
    project.save()
    _import(project, _jsonl(NATIVE))
    assert sorted(_slots(c) for c in Comparison.objects.all()) == [["2", "Four."], ["2", "Seven is prime."]]


def test_import_follows_the_settings_as_stored_not_a_stale_project_object(project: Project) -> None:
    Project.objects.filter(pk=project.pk).update(pairing=Project.Pairing.FIRST_VS_REST)
    assert _import(project, _jsonl(NATIVE)).comparisons_created == 2


def test_ranking_project_groups_candidates_by_k() -> None:
    project = ProjectFactory(mode=Project.Mode.RANKING, candidates_per_comparison=3)
    texts = ["a", "b", "c", "d"]
    batch = _import(project, _jsonl({"prompt": "Rank", "candidates": [{"text": t} for t in texts]}))
    assert batch.comparisons_created == 2
    assert sorted(_slots(c) for c in Comparison.objects.all()) == [["a", "b", "c"], ["c", "d", "a"]]


def test_trl_standard_rows_become_unjudged_pairs_with_the_order_hidden(project: Project) -> None:
    rows = [{"prompt": f"Question {i}?", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(12)]
    batch = _import(project, _jsonl(*rows))
    assert (batch.format, batch.prompts_created, batch.comparisons_created) == ("trl", 12, 12)
    assert not Judgment.objects.exists()
    first_slots = [_slots(c)[0] for c in Comparison.objects.all()]
    # Slots follow content hashes, so "chosen" is first for some rows and second for others.
    assert any(t.startswith("good") for t in first_slots) and any(t.startswith("bad") for t in first_slots)
    assert Prompt.objects.filter(messages=[{"role": "user", "content": "Question 3?"}]).exists()


def test_trl_conversational_rows_as_judgments_record_chosen_over_rejected(project: Project) -> None:
    row = {
        "prompt": [{"role": "user", "content": "Capital of France?"}],
        "chosen": [{"role": "assistant", "content": "Paris."}],
        "rejected": [{"role": "assistant", "content": "Lyon."}],
    }
    batch = _import(project, _jsonl(row), as_judgments=True)
    assert (batch.format, batch.judgments_created) == ("trl", 1)
    judgment = Judgment.objects.get()
    paris, lyon = Candidate.objects.get(text="Paris."), Candidate.objects.get(text="Lyon.")
    assert judgment.ordering == [[paris.pk], [lyon.pk]]
    assert (judgment.source, judgment.annotator, judgment.assignment) == ("imported", None, None)
    assert judgment.comparison.judgment_count == 1
    assert len(judgment.submission_token) == 64


def test_hh_transcripts_split_into_shared_prefix_and_final_replies(project: Project) -> None:
    row = {
        "chosen": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: A pun.",
        "rejected": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: No.",
    }
    batch = _import(project, _jsonl(row), as_judgments=True)
    assert (batch.format, batch.candidates_created, batch.judgments_created) == ("hh", 2, 1)
    assert Prompt.objects.get().messages == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke"},
    ]
    pun, no = Candidate.objects.get(text="A pun."), Candidate.objects.get(text="No.")
    assert Judgment.objects.get().ordering == [[pun.pk], [no.pk]]


@pytest.mark.parametrize("format", ["auto", "trl", "hh"])
def test_trl_implicit_prompt_rows_split_like_hh(project: Project, format: str) -> None:
    user = {"role": "user", "content": "Hi"}
    row = {
        "chosen": [user, {"role": "assistant", "content": "Hello!"}],
        "rejected": [user, {"role": "assistant", "content": "Go away."}],
    }
    batch = _import(project, _jsonl(row), format=format, as_judgments=True)
    assert (batch.prompts_created, batch.candidates_created, batch.judgments_created) == (1, 2, 1)
    assert batch.format == ("trl" if format == "auto" else format)
    assert Prompt.objects.get().messages == [user]


def test_reimporting_the_same_file_returns_the_first_batch_and_writes_nothing(project: Project) -> None:
    data = _jsonl(NATIVE)
    first = _import(project, data)
    again = _import(project, data)
    assert again.pk == first.pk
    assert ImportBatch.objects.count() == 1
    assert (Prompt.objects.count(), Candidate.objects.count(), Comparison.objects.count()) == (1, 3, 3)


def test_overlapping_file_adds_only_what_is_new(project: Project) -> None:
    rows = [{"prompt": f"Q{i}", "chosen": f"yes {i}", "rejected": f"no {i}"} for i in range(3)]
    _import(project, _jsonl(*rows[:2]), as_judgments=True)
    batch = _import(project, _jsonl(*rows), as_judgments=True)
    counts = (batch.prompts_created, batch.candidates_created, batch.comparisons_created)
    assert counts == (1, 2, 1) and batch.judgments_created == 1
    assert Judgment.objects.count() == 3
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {1}


def test_same_prompt_on_two_lines_is_one_prompt_with_all_candidates(project: Project) -> None:
    batch = _import(
        project,
        _jsonl(
            {"prompt": "Same?", "chosen": "a", "rejected": "b"},
            {"prompt": "Same?", "chosen": "a", "rejected": "c"},
        ),
    )
    assert (batch.prompts_created, batch.candidates_created, batch.comparisons_created) == (1, 3, 2)


def test_one_file_imports_into_two_projects_independently(project: Project) -> None:
    data = _jsonl({"prompt": "Q", "chosen": "a", "rejected": "b"})
    other = ProjectFactory()
    _import(project, data, as_judgments=True)
    _import(other, data, as_judgments=True)
    assert Judgment.objects.count() == 2 and ImportBatch.objects.count() == 2


def test_bom_blank_lines_and_crlf_are_accepted(project: Project) -> None:
    line = json.dumps({"prompt": "Q", "candidates": [{"text": "a"}, {"text": "b"}]}).encode()
    other = json.dumps({"prompt": "R", "candidates": [{"text": "a"}, {"text": "b"}]}).encode()
    batch = _import(project, b"\xef\xbb\xbf" + line + b"\r\n\r\n   \n" + other + b"\r\n\n")
    assert (batch.lines, batch.prompts_created) == (2, 2)


def test_a_stream_that_cannot_seek_is_spooled(project: Project) -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    data = _jsonl(NATIVE)
    batch = data_import(project=project, file=OneWay(data), file_name="pipe")
    assert batch.file_sha256 == hashlib.sha256(data).hexdigest() and batch.prompts_created == 1


VALID = {"prompt": "Fine", "candidates": [{"text": "a"}, {"text": "b"}]}
MALFORMED: dict[str, tuple[bytes, str | None, str]] = {
    "invalid JSON": (b'{"prompt": "x", "candidates": [}\n', None, "invalid JSON"),
    "NaN": (
        b'{"prompt": "x", "candidates": [{"text": "a", "params": {"t": NaN}}, {"text": "b"}]}\n',
        None,
        "NaN",
    ),
    "not an object": (b'"just text"\n', None, "expected a JSON object, got a string"),
    "missing prompt": (_jsonl({"candidates": [{"text": "a"}, {"text": "b"}]}), "prompt", "missing"),
    "mistyped prompt": (_jsonl({**VALID, "prompt": 42}), "prompt", "expected text or a list of messages"),
    "mistyped candidates": (_jsonl({**VALID, "candidates": "a, b"}), "candidates", "expected a list"),
    "candidate not an object": (_jsonl({**VALID, "candidates": ["a", "b"]}), "candidates[0]", "expected an"),
    "missing candidate text": (
        _jsonl({**VALID, "candidates": [{"text": "a"}, {"model": "m"}]}),
        "candidates[1].text",
        "missing",
    ),
    "mistyped params": (
        _jsonl({**VALID, "candidates": [{"text": "a", "params": [1]}, {"text": "b"}]}),
        "candidates[0].params",
        "expected an object",
    ),
    "mistyped metadata": (_jsonl({**VALID, "metadata": "x"}), "metadata", "expected an object"),
    "empty prompt text": (_jsonl({**VALID, "prompt": "   "}), "prompt", "empty text"),
    "empty candidate text": (
        _jsonl({**VALID, "candidates": [{"text": "a"}, {"text": ""}]}),
        "candidates[1].text",
        "empty text",
    ),
    "one candidate": (_jsonl({**VALID, "candidates": [{"text": "a"}]}), "candidates", "at least 2"),
    "too many candidates": (
        _jsonl({**VALID, "candidates": [{"text": str(i)} for i in range(101)]}),
        "candidates",
        "at most 100 candidates per line, got 101",
    ),
    "duplicate candidates": (
        _jsonl({**VALID, "candidates": [{"text": "a"}, {"text": "b"}, {"text": "a", "model": "m"}]}),
        "candidates[2].text",
        "duplicate of candidates[0]",
    ),
    "unknown role": (
        _jsonl({**VALID, "prompt": [{"role": "human", "content": "hi"}]}),
        "prompt[0].role",
        "unknown role 'human'",
    ),
    "missing content": (_jsonl({**VALID, "prompt": [{"role": "user"}]}), "prompt[0].content", "missing"),
    "system in the middle": (
        _jsonl({**VALID, "prompt": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}),
        "prompt[1].role",
        "system message can only come first",
    ),
    "ends with assistant": (
        _jsonl(
            {**VALID, "prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        ),
        "prompt",
        "must end with a user turn",
    ),
    "system twice": (
        _jsonl(
            {
                **VALID,
                "system": "s",
                "prompt": [{"role": "system", "content": "t"}, {"role": "user", "content": "u"}],
            }
        ),
        "system",
        "given twice",
    ),
    "NUL character": (
        b'{"prompt": "x\\u0000", "candidates": [{"text": "a"}, {"text": "b"}]}\n',
        "prompt",
        "NUL",
    ),
    "lone surrogate": (
        b'{"prompt": "x", "candidates": [{"text": "a\\ud800"}, {"text": "b"}]}\n',
        "candidates[0].text",
        "surrogate",
    ),
    "non-UTF-8": (
        b'{"prompt": "caf\xe9", "candidates": [{"text": "a"}, {"text": "b"}]}\n',
        None,
        "not valid UTF-8",
    ),
    "huge line": (
        _jsonl({**VALID, "prompt": "x" * (1024 * 1024 + 10)}),
        None,
        "longer than the limit of 1048576 bytes",
    ),
    "trl chosen mistyped": (
        _jsonl({"prompt": "q", "chosen": ["a"], "rejected": "b"}),
        "chosen",
        "expected text",
    ),
    "trl empty rejected": (_jsonl({"prompt": "q", "chosen": "a", "rejected": ""}), "rejected", "empty text"),
    "trl same texts": (
        _jsonl({"prompt": "q", "chosen": "a", "rejected": "a"}),
        "rejected",
        "duplicate of chosen",
    ),
    "trl conversational chosen not assistant": (
        _jsonl(
            {
                "prompt": [{"role": "user", "content": "q"}],
                "chosen": [{"role": "user", "content": "a"}],
                "rejected": [{"role": "assistant", "content": "b"}],
            }
        ),
        "chosen",
        "one assistant message",
    ),
    "hh prefix differs": (
        _jsonl({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: z\n\nAssistant: c"}),
        "rejected",
        "differs from chosen",
    ),
    "hh ends with human": (
        _jsonl(
            {"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c", "rejected": "\n\nHuman: a\n\nAssistant: d"}
        ),
        "chosen",
        "end with an assistant turn",
    ),
    "hh not a transcript": (_jsonl({"chosen": "hello", "rejected": "bye"}), "chosen", "starting with"),
}


def _valid_line_like(bad: bytes) -> bytes:
    """A valid line in the format of `bad`, to go first: it must not be written either."""
    if b'"chosen"' not in bad:
        return _jsonl(VALID)
    if b'"prompt"' in bad:
        return _jsonl({"prompt": "Fine", "chosen": "a", "rejected": "b"})
    return _jsonl({"chosen": "\n\nHuman: ok\n\nAssistant: a", "rejected": "\n\nHuman: ok\n\nAssistant: b"})


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_line_is_reported_and_nothing_is_written(project: Project, case: str) -> None:
    bad, field, reason = MALFORMED[case]
    details = _errors(project, _valid_line_like(bad) + bad)
    assert len(details) == 1, details
    assert details[0]["line"] == 2 and details[0]["field"] == field
    assert reason in details[0]["reason"]


@pytest.mark.parametrize(
    "data", [json.dumps([VALID, VALID]).encode(), json.dumps([VALID], indent=2).encode(), b"\n  [\n"]
)
def test_json_array_file_is_refused_with_a_clear_message(project: Project, data: bytes) -> None:
    details = _errors(project, data)
    assert len(details) == 1
    assert "expected one JSON object per line" in details[0]["reason"]


def test_line_of_no_known_format_is_refused(project: Project) -> None:
    details = _errors(project, _jsonl({"question": "x"}, VALID))
    assert details[0]["line"] == 1 and "cannot tell the format" in details[0]["reason"]


def test_non_utf8_file_names_the_line(project: Project) -> None:
    data = _jsonl(VALID, VALID) + "é".encode("latin-1") + b"\n"
    assert _errors(project, data) == [
        {"line": 3, "field": None, "reason": "not valid UTF-8 (byte 1 of the line)"}
    ]


def test_empty_file_is_refused(project: Project) -> None:
    assert _errors(project, b"\n\n  \n")[0]["reason"] == "empty, or only blank lines"


def test_unknown_format_is_refused(project: Project) -> None:
    assert _errors(project, _jsonl(VALID), format="csv")[0]["field"] == "format"


def test_as_judgments_needs_a_preference_format(project: Project) -> None:
    assert _errors(project, _jsonl(VALID), as_judgments=True)[0]["field"] == "as_judgments"


def test_stated_format_is_enforced(project: Project) -> None:
    details = _errors(project, _jsonl(VALID), format="trl")
    assert (details[0]["field"], details[0]["reason"]) == ("chosen", "missing")


def test_report_lists_the_first_50_problems_and_counts_them_all(project: Project) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _import(project, _jsonl(VALID) + b"not json\n" * 70)
    assert len(caught.value.details) == 50
    assert caught.value.details[0]["line"] == 2 and caught.value.details[-1]["line"] == 51
    assert "70 problems found, showing the first 50" in caught.value.message


def test_invalid_line_after_written_chunks_rolls_everything_back(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "CHUNK_LINES", 2)
    rows = [{"prompt": f"Q{i}", "chosen": "a", "rejected": "b"} for i in range(5)]
    details = _errors(project, _jsonl(*rows) + b"{oops\n", as_judgments=True)
    assert details[0]["line"] == 6
    assert not Judgment.objects.exists()


def test_huge_line_is_skipped_in_pieces_and_later_lines_are_still_checked(project: Project) -> None:
    data = _jsonl(VALID) + b'{"prompt": "' + b"x" * (3 * 1024 * 1024) + b'"}\n' + b"{bad\n"
    details = _errors(project, data)
    assert [d["line"] for d in details] == [2, 3]


def test_without_copy_bulk_create_writes_the_same_rows(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite (the embedded default) has no COPY; the fallback must build identical data.
    monkeypatch.setattr(importing, "USE_COPY", False)
    _import(project, _jsonl(NATIVE))
    batch = _import(project, _jsonl({"prompt": "Q", "chosen": "good", "rejected": "bad"}), as_judgments=True)
    assert (batch.prompts_created, batch.candidates_created, batch.judgments_created) == (1, 2, 1)
    assert (Prompt.objects.count(), Candidate.objects.count(), Comparison.objects.count()) == (2, 5, 4)
    good, bad = Candidate.objects.get(text="good"), Candidate.objects.get(text="bad")
    assert Judgment.objects.get().ordering == [[good.pk], [bad.pk]]
    assert Prompt.objects.get(external_id="q1").metadata == {"topic": "math"}


def test_copied_rows_read_back_like_any_other(project: Project) -> None:
    _import(project, _jsonl(NATIVE))
    prompt = Prompt.objects.get()
    assert prompt.created_at is not None and prompt.round == 0
    candidate = prompt.candidates.get(model_name="small")
    assert candidate.generation_params == {"temperature": 0.7} and candidate.created_at is not None
    comparison = Comparison.objects.first()
    assert (comparison.gold_ordering, comparison.priority, comparison.judgment_count) == (None, 0, 0)
    assert [s.position for s in comparison.slots.all()] == [0, 1]
    _import(project, _jsonl({"prompt": "Q", "chosen": "good", "rejected": "bad"}), as_judgments=True)
    judgment = Judgment.objects.get()
    assert (judgment.ratings, judgment.flags, judgment.presented_order, judgment.strength) == ({}, [], [], "")
    assert judgment.rationale == "" and judgment.time_spent_ms == 0 and judgment.updated_at is not None


def test_huge_line_of_blanks_is_reported_and_does_not_shift_line_numbers(project: Project) -> None:
    data = _jsonl(VALID) + b" " * (2 * 1024 * 1024) + b"{}\n" + b"{bad\n"
    details = _errors(project, data)
    assert [d["line"] for d in details] == [2, 3]


def test_comparisons_build_creates_missing_comparisons_once(project: Project) -> None:
    prompt = PromptFactory(project=project)
    candidates = [CandidateFactory(prompt=prompt) for _ in range(3)]
    assert comparisons_build(project=project, prompt=prompt, candidates=candidates) == 3
    assert comparisons_build(project=project, prompt=prompt, candidates=candidates) == 0
    new = CandidateFactory(prompt=prompt)
    assert comparisons_build(project=project, prompt=prompt, candidates=[*candidates, new]) == 3
    assert Comparison.objects.filter(project=project).count() == 6
    elsewhere = CandidateFactory()
    with pytest.raises(ValidationFailed):
        comparisons_build(project=project, prompt=prompt, candidates=[*candidates, elsewhere])
    with pytest.raises(ValidationFailed):
        comparisons_build(project=ProjectFactory(), prompt=prompt, candidates=candidates)


def test_native_lines_carry_a_round_and_may_be_prompts_to_generate_for(project: Project) -> None:
    held_out = {"id": "h1", "prompt": "Held out for round 2.", "candidates": [], "round": 2}
    batch = _import(project, _jsonl({**NATIVE, "round": 1}, held_out))
    assert (batch.prompts_created, batch.candidates_created, batch.comparisons_created) == (2, 3, 3)
    assert dict(Prompt.objects.values_list("external_id", "round")) == {"q1": 1, "h1": 2}
    assert set(Candidate.objects.values_list("round", flat=True)) == {1}
    assert set(Comparison.objects.values_list("round", flat=True)) == {1}
    assert not Candidate.objects.filter(prompt__external_id="h1").exists()


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ({"round": -1}, "round", "expected a whole number from 0"),
        ({"round": "2"}, "round", "expected a whole number from 0"),
        ({"round": True}, "round", "expected a whole number from 0"),
        ({"candidates": [{"text": "alone"}]}, "candidates", "expected at least 2 candidates, got 1"),
    ],
)
def test_bad_rounds_and_single_candidates_are_refused(
    project: Project, line: dict, field: str, reason: str
) -> None:
    [detail] = _errors(project, _jsonl({**NATIVE, **line}))
    assert detail["field"] == field and reason in detail["reason"]


def test_comparison_pairs_build_makes_arena_pairs_whatever_the_mode_and_reuses_existing(
    project: Project,
) -> None:
    project.mode, project.candidates_per_comparison = Project.Mode.RANKING, 3
    project.save()
    prompt = PromptFactory(project=project)
    a, b, c = (CandidateFactory(prompt=prompt) for _ in range(3))
    assert comparisons_build(project=project, prompt=prompt, candidates=[a, b, c]) == 1
    ids = comparison_pairs_build(project=project, pairs=[(a.pk, b.pk), (c.pk, a.pk)], round=4)
    assert len(set(ids)) == 2
    pairs = Comparison.objects.filter(pk__in=ids)
    assert {(x.round, x.arena, x.slots.count()) for x in pairs} == {(4, True, 2)}
    assert [s.candidate_id for s in Comparison.objects.get(pk=ids[1]).slots.all()] == [c.pk, a.pk]
    assert comparison_pairs_build(project=project, pairs=[(b.pk, a.pk)]) == ids[:1]
    assert not Comparison.objects.filter(pk__in=ids[:1]).exclude(round=4).exists()
    other = CandidateFactory(prompt=PromptFactory(project=project))
    for bad in ([(a.pk, other.pk)], [(a.pk, a.pk)], [(a.pk, CandidateFactory().pk)]):
        with pytest.raises(ValidationFailed, match="two different candidates of one prompt"):
            comparison_pairs_build(project=project, pairs=bad)
    assert Comparison.objects.filter(project=project).count() == 3


def test_an_arena_battle_never_takes_over_a_regular_comparison_of_the_same_pair(project: Project) -> None:
    prompt = PromptFactory(project=project)
    a, b = CandidateFactory(prompt=prompt), CandidateFactory(prompt=prompt)
    assert comparisons_build(project=project, prompt=prompt, candidates=[a, b]) == 1
    regular = Comparison.objects.get(project=project)
    [battle] = comparison_pairs_build(project=project, pairs=[(b.pk, a.pk)], round=2)
    assert battle != regular.pk and Comparison.objects.get(pk=battle).arena
    regular.refresh_from_db()
    assert (regular.arena, regular.round) == (False, 0)
    assert comparisons_build(project=project, prompt=prompt, candidates=[b, a]) == 0
    assert comparison_pairs_build(project=project, pairs=[(a.pk, b.pk)]) == [battle]


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_overlapping_files_do_not_collide() -> None:
    project = ProjectFactory(slug="concurrent")
    rows = [{"prompt": f"Q{i}", "chosen": f"yes {i}", "rejected": f"no {i}"} for i in range(60)]
    files = [_jsonl(*rows[:40]), _jsonl(*rows[20:])]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(data: bytes) -> None:
        try:
            barrier.wait()
            _import(project, data, as_judgments=True)
        except BaseException as exc:  # reported below, from the test thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(data,)) for data in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert (Prompt.objects.count(), Comparison.objects.count(), Judgment.objects.count()) == (60, 60, 60)
    batches = ImportBatch.objects.order_by("id")
    assert sum(b.prompts_created for b in batches) == 60
