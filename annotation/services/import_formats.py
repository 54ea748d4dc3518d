"""Reading JSONL import files line by line into plain records, with a report of every bad line.

No ORM here: `JsonlReader` turns a binary stream into `Record`s (a prompt as messages plus its
candidates, and for pre-labelled preferences which one was chosen) and collects line errors as
{"line", "field", "reason"}. It reads one line at a time and never holds more than one line, so
memory stays flat whatever the size of the file. Formats are described in docs/importing.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

FORMATS = ("auto", "native", "trl", "hh")
ROLES = ("system", "user", "assistant")
MAX_LINE_BYTES = 1024 * 1024
MAX_REPORTED_ERRORS = 50
MAX_NAME_LENGTH = 255
# All pairs of n candidates is n(n-1)/2 comparisons: bound what one line can ask for.
MAX_CANDIDATES = 100
MAX_ROUND = 2**31 - 1
_BOM = b"\xef\xbb\xbf"
_DRAIN_BYTES = 64 * 1024
# HH transcripts: "\n\nHuman: …\n\nAssistant: …"; the role names map onto chat roles.
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (sorted keys, no spaces, UTF-8)."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def prompt_content_hash(messages: list[dict]) -> str:
    """The identity of a prompt within a project: its conversation, nothing else."""
    return canonical_hash(messages)


def candidate_content_hash(text: str) -> str:
    """The identity of a candidate within its prompt: its text (two models writing the same text
    give one candidate, since comparing a text with itself tells nothing)."""
    return canonical_hash(text)


class LineError(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    text: str
    model: str
    params: dict
    content_hash: str


@dataclass(frozen=True, slots=True)
class Record:
    """One valid line. `preference` is (chosen, rejected) as indexes into `candidates`, or None."""

    line: int
    line_hash: str
    external_id: str
    messages: list[dict]
    metadata: dict
    prompt_hash: str
    candidates: tuple[CandidateRecord, ...]
    preference: tuple[int, int] | None
    # The round the prompt, its candidates and comparisons belong to (native lines may say; else 0).
    round: int = 0


class JsonlReader:
    """Iterates the valid records of a JSONL file; bad lines land in `errors` instead.

    `errors` keeps the first MAX_REPORTED_ERRORS problems, `error_count` counts them all and
    `lines` counts the non-blank lines read. `format` is the format stated or, with "auto", the
    one recognised from the first line that is a JSON object.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        format: str = "auto",
        as_judgments: bool = False,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}")
        self.stream = stream
        self.format: str | None = None if format == "auto" else format
        self.as_judgments = as_judgments
        self.max_line_bytes = max_line_bytes
        self.errors: list[dict] = []
        self.error_count = 0
        self.lines = 0

    def error(self, line: int, field: str | None, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "field": field, "reason": reason})

    def __iter__(self) -> Iterator[Record]:
        for line_no, raw in self._raw_lines():
            if raw is None:
                continue
            try:
                record = self._parse(line_no, raw)
            except LineError as exc:
                self.error(line_no, exc.field, exc.reason)
                continue
            if record is None:  # a file-level problem: the reader has stopped
                return
            yield record

    def _raw_lines(self) -> Iterator[tuple[int, bytes | None]]:
        """(line number, stripped bytes) for each non-blank line; None for a line too long to read."""
        line_no = 0
        seen_content = False
        while True:
            raw = self.stream.readline(self.max_line_bytes + 1)
            if not raw:
                return
            line_no += 1
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            too_long = len(raw) > self.max_line_bytes and not raw.endswith(b"\n")
            head = raw.lstrip()
            if not head and not too_long:
                continue
            self.lines += 1
            if not seen_content and head.startswith(b"["):
                self.error(
                    line_no,
                    None,
                    "expected one JSON object per line (JSONL), but the file holds a JSON array; "
                    "convert it first, e.g. with `jq -c '.[]' file.json > file.jsonl`",
                )
                return
            seen_content = True
            if too_long:
                while raw and not raw.endswith(b"\n"):  # skip the rest of it, a piece at a time
                    raw = self.stream.readline(_DRAIN_BYTES)
                self.error(line_no, None, f"line longer than the limit of {self.max_line_bytes} bytes")
                yield line_no, None
                continue
            yield line_no, raw.strip()

    def _parse(self, line_no: int, raw: bytes) -> Record | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(None, f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise LineError(None, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except RecursionError:
            raise LineError(None, "invalid JSON: nested too deeply") from None
        except ValueError as exc:
            raise LineError(None, f"invalid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise LineError(None, f"expected a JSON object, got {_json_type(obj)}")
        if "\\u" in text:  # escapes can smuggle in what the database refuses: NUL, lone surrogates
            _check_strings(obj, "")
        if self.format is None:
            self.format = _detect_format(obj)
        if self.format == "native" and self.as_judgments:
            self.error(line_no, "as_judgments", "native lines hold no preference to import as judgments")
            return None
        line_hash = hashlib.sha256(raw).hexdigest()
        external_id = _external_id(obj)
        round = 0
        if self.format == "native":
            messages, metadata, candidates = _parse_native(obj)
            round = _round(obj.get("round"))
            preference = None
        else:
            parse = _parse_trl if self.format == "trl" else _parse_hh
            messages, chosen, rejected = parse(obj)
            metadata = {}
            # Stored in hash order, not chosen-first, so the slot order never gives the label away.
            candidates = tuple(sorted((chosen, rejected), key=lambda c: c.content_hash))
            first_is_chosen = candidates[0] is chosen
            preference = ((0, 1) if first_is_chosen else (1, 0)) if self.as_judgments else None
        return Record(
            line=line_no,
            line_hash=line_hash,
            external_id=external_id,
            messages=messages,
            metadata=metadata,
            prompt_hash=prompt_content_hash(messages),
            candidates=candidates,
            preference=preference,
            round=round,
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid JSON value")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
    }[type(value)]


def _check_strings(value: Any, field: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise LineError(field or None, "contains a NUL character (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LineError(field or None, "contains an unpaired surrogate (\\ud800–\\udfff)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, field)
            _check_strings(item, f"{field}.{key}" if field else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{field}[{i}]")


def _detect_format(obj: dict) -> str:
    if "candidates" in obj:
        return "native"
    if "chosen" in obj and "rejected" in obj:
        # Without a prompt: HH transcripts (text), or TRL's implicit-prompt rows (message lists).
        return "trl" if "prompt" in obj or isinstance(obj["chosen"], list) else "hh"
    raise LineError(
        None,
        'cannot tell the format: expected "candidates" (native), "prompt" with "chosen" and '
        '"rejected" (trl), or "chosen" and "rejected" transcripts (hh)',
    )


def _require(obj: dict, field: str) -> Any:
    if field not in obj or obj[field] is None:
        raise LineError(field, "missing")
    return obj[field]


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise LineError(field, f"expected text, got {_json_type(value)}")
    if not value.strip():
        raise LineError(field, "empty text")
    return value


def _name(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LineError(field, f"expected text, got {_json_type(value)}")
    value = str(value)
    if len(value) > MAX_NAME_LENGTH:
        raise LineError(field, f"longer than {MAX_NAME_LENGTH} characters")
    return value


def _object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LineError(field, f"expected an object, got {_json_type(value)}")
    return value


def _round(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LineError("round", f"expected a whole number from 0, got {json.dumps(value)[:40]}")
    if value > MAX_ROUND:
        raise LineError("round", f"at most {MAX_ROUND}")
    return value


def _external_id(obj: dict) -> str:
    return _name(obj.get("id"), "id")


def _messages(value: Any, field: str) -> list[dict]:
    """A prompt as text (one user turn) or a list of {role, content} ending with a user turn."""
    if isinstance(value, str):
        return [{"role": "user", "content": _text(value, field)}]
    if not isinstance(value, list):
        raise LineError(field, f"expected text or a list of messages, got {_json_type(value)}")
    if not value:
        raise LineError(field, "empty conversation")
    messages = _turns(value, field)
    if messages[-1]["role"] != "user":
        raise LineError(field, f"the conversation must end with a user turn, not {messages[-1]['role']}")
    return messages


def _turns(value: list, field: str) -> list[dict]:
    messages = []
    for i, message in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            raise LineError(where, f"expected a message {{role, content}}, got {_json_type(message)}")
        role = message.get("role")
        if role is None:
            raise LineError(f"{where}.role", "missing")
        if not isinstance(role, str):
            raise LineError(f"{where}.role", f"expected text, got {_json_type(role)}")
        if role not in ROLES:
            raise LineError(f"{where}.role", f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if role == "system" and i != 0:
            raise LineError(f"{where}.role", "a system message can only come first")
        if message.get("content") is None:
            raise LineError(f"{where}.content", "missing")
        messages.append({"role": role, "content": _text(message["content"], f"{where}.content")})
    return messages


def _candidate(text: str, *, model: str = "", params: dict | None = None) -> CandidateRecord:
    return CandidateRecord(
        text=text, model=model, params=params or {}, content_hash=candidate_content_hash(text)
    )


def _parse_native(obj: dict) -> tuple[list[dict], dict, tuple[CandidateRecord, ...]]:
    messages = _messages(_require(obj, "prompt"), "prompt")
    if obj.get("system") is not None:
        system = _text(obj["system"], "system")
        if messages[0]["role"] == "system":
            raise LineError("system", "given twice: also as the first message of the prompt")
        messages = [{"role": "system", "content": system}, *messages]
    metadata = _object(obj.get("metadata"), "metadata")
    raw_candidates = _require(obj, "candidates")
    if not isinstance(raw_candidates, list):
        raise LineError("candidates", f"expected a list, got {_json_type(raw_candidates)}")
    if len(raw_candidates) == 1:
        # None is a prompt waiting for generated candidates; one alone has nothing to be compared with.
        raise LineError(
            "candidates", "expected at least 2 candidates, got 1 (or none, for a prompt to generate for)"
        )
    if len(raw_candidates) > MAX_CANDIDATES:
        raise LineError(
            "candidates", f"at most {MAX_CANDIDATES} candidates per line, got {len(raw_candidates)}"
        )
    candidates: list[CandidateRecord] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(raw_candidates):
        where = f"candidates[{i}]"
        if not isinstance(item, dict):
            raise LineError(where, f'expected an object with "text", got {_json_type(item)}')
        if item.get("text") is None:
            raise LineError(f"{where}.text", "missing")
        candidate = _candidate(
            _text(item["text"], f"{where}.text"),
            model=_name(item.get("model"), f"{where}.model"),
            params=_object(item.get("params"), f"{where}.params"),
        )
        earlier = first_index.get(candidate.content_hash)
        if earlier is not None:
            raise LineError(f"{where}.text", f"duplicate of candidates[{earlier}]")
        first_index[candidate.content_hash] = i
        candidates.append(candidate)
    return messages, metadata, tuple(candidates)


def _parse_trl(obj: dict) -> tuple[list[dict], CandidateRecord, CandidateRecord]:
    if "prompt" not in obj and isinstance(obj.get("chosen"), list):
        return _parse_hh(obj)  # implicit prompt: two whole conversations, split like HH
    prompt = _require(obj, "prompt")
    messages = _messages(prompt, "prompt")
    conversational = isinstance(prompt, list)
    texts = []
    for field in ("chosen", "rejected"):
        value = _require(obj, field)
        if conversational:
            texts.append(_assistant_reply(value, field))
        elif isinstance(value, str):
            texts.append(_text(value, field))
        else:
            raise LineError(field, f"expected text like the prompt, got {_json_type(value)}")
    chosen, rejected = (_candidate(text) for text in texts)
    if chosen.content_hash == rejected.content_hash:
        raise LineError("rejected", "duplicate of chosen")
    return messages, chosen, rejected


def _assistant_reply(value: Any, field: str) -> str:
    """A conversational TRL completion: a list holding one assistant message."""
    if not isinstance(value, list):
        raise LineError(field, f"expected a list of messages like the prompt, got {_json_type(value)}")
    turns = _turns(value, field)
    if len(turns) != 1 or turns[0]["role"] != "assistant":
        raise LineError(field, "expected exactly one assistant message")
    return turns[0]["content"]


def _parse_hh(obj: dict) -> tuple[list[dict], CandidateRecord, CandidateRecord]:
    """Two whole conversations that share everything but the final assistant turn."""
    chosen_value, rejected_value = _require(obj, "chosen"), _require(obj, "rejected")
    conversations = []
    for field, value in (("chosen", chosen_value), ("rejected", rejected_value)):
        if isinstance(value, str):
            turns = _hh_transcript(value, field)
        elif isinstance(value, list):
            if not value:
                raise LineError(field, "empty conversation")
            turns = _turns(value, field)
        else:
            raise LineError(field, f"expected a transcript or a list of messages, got {_json_type(value)}")
        if turns[-1]["role"] != "assistant":
            raise LineError(field, "the conversation must end with an assistant turn")
        if len(turns) < 2 or turns[-2]["role"] != "user":
            raise LineError(field, "expected a user turn before the final assistant turn")
        conversations.append(turns)
    chosen_turns, rejected_turns = conversations
    if chosen_turns[:-1] != rejected_turns[:-1]:
        raise LineError("rejected", "the conversation before the final assistant turn differs from chosen")
    chosen, rejected = _candidate(chosen_turns[-1]["content"]), _candidate(rejected_turns[-1]["content"])
    if chosen.content_hash == rejected.content_hash:
        raise LineError("rejected", "duplicate of chosen")
    return chosen_turns[:-1], chosen, rejected


def _hh_transcript(text: str, field: str) -> list[dict]:
    if text.startswith(("Human:", "Assistant:")):
        text = "\n\n" + text
    parts = _HH_TURN.split(text)
    if parts[0].strip():
        raise LineError(field, 'expected a transcript starting with "\\n\\nHuman:"')
    turns = []
    for role_name, content in zip(parts[1::2], parts[2::2], strict=True):
        content = content.strip()
        if not content:
            raise LineError(field, f"empty {role_name} turn (turn {len(turns) + 1})")
        turns.append({"role": _HH_ROLES[role_name], "content": content})
    if not turns:
        raise LineError(field, 'expected a transcript of "\\n\\nHuman:" and "\\n\\nAssistant:" turns')
    return turns
