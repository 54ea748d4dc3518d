"""Exports of collected data in TRL's dataset formats, streamed in constant memory.

Four kinds: preference {"prompt", "chosen", "rejected"} (rankings expanded to pairs), unpaired
{"prompt", "completion", "label"} from ratings, sft {"messages"} from demonstrations, and raw
judgments (one row per annotator decision). Rows are read in chunks of comparisons (keyset
pagination on the comparison id), so memory does not grow with the project, and written as JSONL
or as Parquet row groups. docs/exporting.md describes every column.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware

from annotation.models import Comparison, ComparisonCandidate, Demonstration, Judgment, Project, Review
from annotation.quality import agreement
from annotation.services.auditing import audit_export
from rankwise.errors import ValidationFailed

KINDS = ("preference", "unpaired", "sft", "judgments")
FILE_FORMATS = ("jsonl", "parquet")
RANKING_PAIRS = ("all", "adjacent")
TIES = ("drop", "keep")
AGGREGATES = ("judgment", "majority")

CHUNK_COMPARISONS = 1000
PARQUET_ROW_GROUP = 20_000
CONTENT_TYPES = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


@dataclass(frozen=True)
class ExportSpec:
    """What to export and how; see docs/exporting.md. date_from is inclusive, date_to exclusive."""

    kind: str = "preference"
    file_format: str = "jsonl"
    conversational: bool = False
    ranking_pairs: str = "all"
    ties: str = "drop"
    aggregate: str = "judgment"
    date_from: datetime | None = None
    date_to: datetime | None = None
    annotator_ids: tuple[int, ...] = ()
    exclude_annotator_ids: tuple[int, ...] = ()
    min_agreement: float | None = None
    rating_threshold: float | None = None
    include_imported: bool = True
    # Only comparisons of these rounds (sft: demonstrations on them, or on prompts of them); () = all.
    rounds: tuple[int, ...] = ()
    # Arena battles are held-out evaluation: left out unless asked for.
    include_arena: bool = False

    def validate(self) -> None:
        """Raises ValidationFailed listing every field that does not fit."""
        problems: list[dict] = []

        def bad(field: str, reason: str) -> None:
            problems.append({"field": field, "reason": reason})

        for field, value, allowed in (
            ("kind", self.kind, KINDS),
            ("file_format", self.file_format, FILE_FORMATS),
            ("ranking_pairs", self.ranking_pairs, RANKING_PAIRS),
            ("ties", self.ties, TIES),
            ("aggregate", self.aggregate, AGGREGATES),
        ):
            if value not in allowed:
                bad(field, f"must be one of {', '.join(allowed)}, not {value!r}")
        if self.date_from and self.date_to and self.date_from >= self.date_to:
            bad("date_to", "must be after date_from")
        if self.min_agreement is not None:
            if not (isinstance(self.min_agreement, int | float) and 0.0 <= self.min_agreement <= 1.0):
                bad("min_agreement", "must be a number between 0 and 1")
            elif self.kind == "sft":
                bad("min_agreement", "applies to judgments, not to sft exports of demonstrations")
        if self.rating_threshold is not None and not (
            isinstance(self.rating_threshold, int | float) and math.isfinite(self.rating_threshold)
        ):
            bad("rating_threshold", "must be a finite number")
        if self.kind in ("sft", "judgments") and self.aggregate == "majority":
            bad("aggregate", f"majority applies to preference and unpaired exports, not to {self.kind}")
        for field in ("annotator_ids", "exclude_annotator_ids"):
            if not all(isinstance(i, int) for i in getattr(self, field)):
                bad(field, "must be user ids (integers)")
        if not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in self.rounds):
            bad("rounds", "must be round numbers (whole numbers from 0)")
        if problems:
            raise ValidationFailed(
                "Invalid export parameters: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
                details=problems,
            )


@dataclass(frozen=True)
class ExportResult:
    rows: int
    sha256: str
    bytes: int


# -- Parsing the doors' parameters -------------------------------------------------------------

# Door parameter name -> ExportSpec field, for the API, the page form and the command.
PARAMS = {
    "kind": "kind",
    "format": "file_format",
    "conversational": "conversational",
    "ranking_pairs": "ranking_pairs",
    "ties": "ties",
    "aggregate": "aggregate",
    "from": "date_from",
    "to": "date_to",
    "annotator": "annotator_ids",
    "exclude_annotator": "exclude_annotator_ids",
    "min_agreement": "min_agreement",
    "rating_threshold": "rating_threshold",
    "include_imported": "include_imported",
    "round": "rounds",
    "include_arena": "include_arena",
}


def export_spec_parse(*, params: Mapping[str, Sequence[str]]) -> ExportSpec:
    """An ExportSpec from door parameters (name -> list of strings; see PARAMS), validated.

    Empty values count as absent. A date without a time for "to" means the end of that day, so
    from=2026-11-01&to=2026-11-30 covers all of November's 30 days. Raises ValidationFailed naming
    the parameter.
    """
    problems: list[dict] = [
        {"field": name, "reason": "is not an export parameter"} for name in params if name not in PARAMS
    ]
    values: dict[str, Any] = {}
    for name, field in PARAMS.items():
        raw = [v.strip() for v in params.get(name, []) if v and v.strip()]
        if not raw:
            continue
        try:
            values[field] = _parse_value(name, raw)
        except ValueError as exc:
            problems.append({"field": name, "reason": str(exc)})
    spec = ExportSpec(**values)
    try:
        spec.validate()
    except ValidationFailed as exc:
        names = {field: name for name, field in PARAMS.items()}
        problems.extend({**d, "field": names.get(d["field"], d["field"])} for d in exc.details)
    if problems:
        order = list(PARAMS)
        problems.sort(key=lambda p: order.index(p["field"]) if p["field"] in order else -1)
        raise ValidationFailed(
            "Invalid export parameters: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
            details=problems,
        )
    return spec


def _parse_value(name: str, raw: list[str]) -> Any:
    if name in ("annotator", "exclude_annotator"):
        ids = [part for value in raw for part in value.split(",") if part.strip()]
        if not all(part.strip().isdigit() for part in ids):
            raise ValueError("must be user ids (integers), comma-separated or repeated")
        return tuple(int(part) for part in ids)
    if name == "round":
        rounds = [part.strip() for value in raw for part in value.split(",") if part.strip()]
        if not all(part.isdigit() for part in rounds):
            raise ValueError("must be round numbers (whole numbers from 0), comma-separated or repeated")
        return tuple(sorted({int(part) for part in rounds}))
    value = raw[-1]
    if name in ("conversational", "include_imported", "include_arena"):
        lowered = value.lower()
        if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError("must be true or false")
        return lowered in ("1", "true", "yes", "on")
    if name in ("min_agreement", "rating_threshold"):
        try:
            number = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(number):
            raise ValueError("must be a finite number")
        return number
    if name in ("from", "to"):
        day = parse_date(value) if len(value) == 10 else None
        if day is not None:
            moment = datetime(day.year, day.month, day.day)
            if name == "to":
                moment += timedelta(days=1)
        else:
            moment = parse_datetime(value)
            if moment is None:
                raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 date and time")
        return make_aware(moment) if is_naive(moment) else moment
    return value


# -- Rows ------------------------------------------------------------------------------------------


def export_rows(*, projects: Sequence[Project], spec: ExportSpec) -> Iterator[dict]:
    """Rows of the export in a stable order, streamed in constant memory.

    Judgment-based kinds come in comparison id order, then judgment id order within a comparison
    (the judgments of one comparison must be read together for agreement and majority). sft rows
    come in demonstration id order. Raises ValidationFailed for an invalid spec before any row.
    """
    spec.validate()
    project_ids = [p.pk for p in projects]
    if spec.kind == "sft":
        return _sft_rows(project_ids, spec)
    builders = {"preference": _preference_rows, "unpaired": _unpaired_rows, "judgments": _judgment_rows}
    thresholds = {p.pk: _rating_threshold(p, spec) for p in projects}
    return builders[spec.kind](_comparison_groups(project_ids, spec), spec, thresholds)


@dataclass
class _Group:
    """One comparison with its candidates (slot order) and its judgments that pass the filters."""

    comparison_id: int
    project_id: int
    prompt_id: int
    messages: list[dict]
    candidates: dict[int, tuple[str, str]]  # id -> (text, model name), in slot order
    judgments: list[dict]
    # The ordering of the comparison's accept or override review, which preference rows use
    # instead of its judgments (docs/exporting.md, "Reviewed comparisons").
    reviewed: list[list[int]] | None = None


# The judgment columns each kind reads: the fewer JSON columns, the less decoding per row.
_JUDGMENT_FIELDS = {
    "preference": ("id", "comparison_id", "ordering"),
    "unpaired": ("id", "comparison_id", "ordering", "ratings"),
    "judgments": (
        "id", "comparison_id", "annotator_id", "source", "ordering", "strength", "ratings", "rationale",
        "flags", "presented_order", "time_spent_ms", "created_at", "updated_at",
    ),
}  # fmt: skip


def _judgment_filter(spec: ExportSpec) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    if spec.date_from:
        conditions["created_at__gte"] = spec.date_from
    if spec.date_to:
        conditions["created_at__lt"] = spec.date_to
    if spec.annotator_ids:
        conditions["annotator_id__in"] = spec.annotator_ids
    if not spec.include_imported:
        conditions["source"] = Judgment.Source.ANNOTATOR
    return conditions


_JSON_COLUMNS = {"ordering", "ratings", "flags", "presented_order"}
# JSON columns are read as text and decoded here: Django's JSONField converter (json.loads through
# the ORM's per-value converter chain) cost more than the rest of building a row.
_json_decode = json.JSONDecoder().raw_decode


def _json_text(name: str) -> Cast:
    return Cast(name, TextField())


def _judgment_dicts(judgments: QuerySet[Judgment], kind: str) -> list[dict[str, Any]]:
    fields = _JUDGMENT_FIELDS[kind]
    columns = [_json_text(f) if f in _JSON_COLUMNS else f for f in fields]
    decoded = [i for i, f in enumerate(fields) if f in _JSON_COLUMNS]
    rows = []
    for values in judgments.values_list(*columns):
        row = list(values)
        for i in decoded:
            row[i] = _json_decode(row[i])[0]
        rows.append(dict(zip(fields, row, strict=True)))
    return rows


@contextmanager
def _serial_plans() -> Iterator[None]:
    """One chunk's queries in a transaction that forbids parallel plans (PostgreSQL).

    For a chunk's few thousand rows the planner picks a parallel plan whose worker start-up took
    ten times the query itself (28 ms against 3 ms per chunk in bench/export_bench.py).
    """
    if connection.vendor != "postgresql":
        # Nothing to turn off, and SQLite's transactions (BEGIN IMMEDIATE here) would lock out writers.
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def _comparison_groups(project_ids: list[int], spec: ExportSpec) -> Iterator[_Group]:
    """Comparisons with at least one judgment passing the filters, chunk by chunk (keyset on id).

    Three queries per chunk whatever its size: the window of comparisons with their prompts, their
    judgments, and their slots with candidate texts; preference exports read the window's settling
    reviews too. Groups failing min_agreement are skipped, unless a reviewer settled them;
    agreement is measured on the filtered judgments, so excluding an annotator changes it.
    """
    conditions = _judgment_filter(spec)
    last = 0
    while True:
        judgments = Judgment.objects.filter(**conditions)
        if spec.exclude_annotator_ids:
            judgments = judgments.exclude(annotator_id__in=spec.exclude_annotator_ids)
        # The chunk is a window of comparison ids, found on the primary key index so each chunk
        # costs the same however far into the project it is. The chunk's judgments and slots are
        # read by id range alone (an index range scan; joining comparisons to filter by project
        # made PostgreSQL scan the comparison table per chunk), and rows of other projects'
        # comparisons within the range are skipped here.
        with _serial_plans():
            window = list(
                _comparisons(project_ids, spec)
                .filter(id__gt=last)
                .order_by("id")
                .values_list("id", "project_id", "prompt_id", _json_text("prompt__messages"))[
                    :CHUNK_COMPARISONS
                ]
            )
            if not window:
                return
            upper = window[-1][0]
            in_window = {"comparison_id__gt": last, "comparison_id__lte": upper}
            last = upper
            comparisons = {row[0]: row for row in window}
            rows = _judgment_dicts(judgments.filter(**in_window).order_by("comparison_id", "id"), spec.kind)
            rows = [row for row in rows if row["comparison_id"] in comparisons]
            if not rows:
                continue
            slots: dict[int, dict[int, tuple[str, str]]] = {}
            for comparison_id, candidate_id, text, model_name in (
                ComparisonCandidate.objects.filter(**in_window)
                .order_by("comparison_id", "position")
                .values_list("comparison_id", "candidate_id", "candidate__text", "candidate__model_name")
            ):
                slots.setdefault(comparison_id, {})[candidate_id] = (text, model_name)
            reviewed: dict[int, list[list[int]]] = {}
            if spec.kind == "preference":
                reviewed = dict(
                    Review.objects.filter(**in_window, decision__in=Review.SETTLING).values_list(
                        "comparison_id", "ordering"
                    )
                )
        group: _Group | None = None
        for row in rows:
            if group is None or group.comparison_id != row["comparison_id"]:
                if group is not None:
                    yield from _passing(group, spec)
                comparison_id, project_id, prompt_id, messages = comparisons[row["comparison_id"]]
                group = _Group(
                    comparison_id=comparison_id,
                    project_id=project_id,
                    prompt_id=prompt_id,
                    messages=_json_decode(messages)[0],
                    candidates=slots.get(comparison_id, {}),
                    judgments=[],
                    reviewed=reviewed.get(comparison_id),
                )
            group.judgments.append(row)
        if group is not None:
            yield from _passing(group, spec)


def _comparisons(project_ids: list[int], spec: ExportSpec) -> QuerySet[Comparison]:
    """The projects' comparisons that the spec's round and arena filters keep."""
    comparisons = Comparison.objects.filter(project_id__in=project_ids)
    if spec.rounds:
        comparisons = comparisons.filter(round__in=spec.rounds)
    if not spec.include_arena:
        comparisons = comparisons.filter(arena=False)
    return comparisons


def _passing(group: _Group, spec: ExportSpec) -> Iterator[_Group]:
    # A reviewer's decision settles disagreement, so min_agreement does not apply to it.
    if spec.min_agreement is not None and group.reviewed is None:
        score = agreement.agreement_score(j["ordering"] for j in group.judgments)
        if score is None or score < spec.min_agreement:
            return
    yield group


def render_prompt(messages: list[dict]) -> str:
    """The standard (string) prompt: the user text for one turn, else a transcript ending in it."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def _prompt(group: _Group, spec: ExportSpec) -> str | list[dict]:
    if spec.conversational:
        return [{"role": m["role"], "content": m["content"]} for m in group.messages]
    return render_prompt(group.messages)


def _completion(text: str, spec: ExportSpec) -> str | list[dict]:
    return [{"role": "assistant", "content": text}] if spec.conversational else text


def _in_slot_order(ordering: list[list[int]], group: _Group) -> list[list[int]]:
    """Tiers with their members in slot order, so pairs come out in a stable order."""
    if all(len(tier) == 1 for tier in ordering):
        return ordering  # the common case (no ties): nothing to sort
    position = {candidate: i for i, candidate in enumerate(group.candidates)}
    return [sorted(tier, key=lambda c: position.get(c, len(position))) for tier in ordering]


def _preference_rows(groups: Iterator[_Group], spec: ExportSpec, thresholds: dict) -> Iterator[dict]:
    adjacent = spec.ranking_pairs == "adjacent"
    for group in groups:
        if group.reviewed is not None:
            # Accepted or overridden: the review's ordering, once, in either aggregate.
            orderings = [group.reviewed]
        elif spec.aggregate == "majority":
            orderings = [agreement.consensus_ordering(j["ordering"] for j in group.judgments)]
        else:
            orderings = [j["ordering"] for j in group.judgments]
        prompt = _prompt(group, spec)
        for ordering in orderings:
            for better, worse, tie in agreement.ordering_pairs(
                _in_slot_order(ordering, group), adjacent=adjacent
            ):
                if tie and spec.ties == "drop":
                    continue
                row = {
                    "prompt": prompt,
                    "chosen": _completion(group.candidates[better][0], spec),
                    "rejected": _completion(group.candidates[worse][0], spec),
                    "comparison_id": group.comparison_id,
                }
                if spec.ties == "keep":
                    row["metadata"] = {"tie": tie}
                yield row


def _rating_threshold(project: Project, spec: ExportSpec) -> float:
    """The explicit threshold, else the midpoint of the project's 1..max rating scale."""
    if spec.rating_threshold is not None:
        return spec.rating_threshold
    return (1 + project.rating_scale_max) / 2


def _scores(ratings: Mapping[str, Any]) -> dict[str, float]:
    """The numeric scores of one candidate's ratings, by criterion; anything else is not a score."""
    return {c: float(v) for c, v in ratings.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _mean_rating(ratings: Mapping[str, Any]) -> float | None:
    scores = _scores(ratings).values()
    return sum(scores) / len(scores) if scores else None


def _unpaired_rows(groups: Iterator[_Group], spec: ExportSpec, thresholds: dict) -> Iterator[dict]:
    for group in groups:
        threshold = thresholds[group.project_id]
        prompt = _prompt(group, spec)
        if spec.aggregate == "majority":
            # One row per candidate: the mean over every annotator's per-criterion scores.
            per_candidate: dict[int, list[float]] = {}
            for judgment in group.judgments:
                for candidate_id, ratings in (judgment["ratings"] or {}).items():
                    mean = _mean_rating(ratings)
                    if mean is not None:
                        per_candidate.setdefault(int(candidate_id), []).append(mean)
            means = [(c, sum(m) / len(m)) for c, m in per_candidate.items()]
        else:
            means = [
                (int(candidate_id), mean)
                for judgment in group.judgments
                for candidate_id, ratings in (judgment["ratings"] or {}).items()
                if (mean := _mean_rating(ratings)) is not None
            ]
        for candidate_id, mean in means:
            if candidate_id not in group.candidates:
                continue
            yield {
                "prompt": prompt,
                "completion": _completion(group.candidates[candidate_id][0], spec),
                "label": mean >= threshold,
                "comparison_id": group.comparison_id,
            }


def annotator_pseudonym(user_id: int | None) -> str | None:
    """A stable pseudonym for a user: a keyed hash of the id, never the username."""
    if user_id is None:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return "a-" + digest.hexdigest()[:12]


def _judgment_rows(groups: Iterator[_Group], spec: ExportSpec, thresholds: dict) -> Iterator[dict]:
    for group in groups:
        prompt = _prompt(group, spec)
        candidates = [
            {"id": c, "text": text, "model": model} for c, (text, model) in group.candidates.items()
        ]
        for judgment in group.judgments:
            yield {
                "judgment_id": judgment["id"],
                "comparison_id": group.comparison_id,
                "prompt_id": group.prompt_id,
                "prompt": prompt,
                "candidates": candidates,
                "annotator": annotator_pseudonym(judgment["annotator_id"]),
                "source": judgment["source"],
                "ordering": [[int(c) for c in tier] for tier in judgment["ordering"]],
                "tie": len(judgment["ordering"]) == 1,
                "strength": judgment["strength"],
                "ratings": [
                    {"candidate_id": int(candidate_id), "criterion": criterion, "score": score}
                    for candidate_id, ratings in (judgment["ratings"] or {}).items()
                    for criterion, score in _scores(ratings).items()
                ],
                "rationale": judgment["rationale"],
                "flags": list(judgment["flags"] or []),
                "presented_order": [int(c) for c in judgment["presented_order"] or []],
                "time_spent_ms": judgment["time_spent_ms"],
                "created_at": judgment["created_at"].isoformat(),
                "updated_at": judgment["updated_at"].isoformat(),
            }


def _sft_rows(project_ids: list[int], spec: ExportSpec) -> Iterator[dict]:
    demonstrations = Demonstration.objects.filter(prompt__project_id__in=project_ids)
    if spec.date_from:
        demonstrations = demonstrations.filter(created_at__gte=spec.date_from)
    if spec.date_to:
        demonstrations = demonstrations.filter(created_at__lt=spec.date_to)
    if spec.annotator_ids:
        demonstrations = demonstrations.filter(annotator_id__in=spec.annotator_ids)
    if spec.exclude_annotator_ids:
        demonstrations = demonstrations.exclude(annotator_id__in=spec.exclude_annotator_ids)
    if spec.rounds:
        # A demonstration written on a comparison is of that comparison's round, else of its prompt's.
        demonstrations = demonstrations.filter(
            Q(comparison__round__in=spec.rounds) | Q(comparison__isnull=True, prompt__round__in=spec.rounds)
        )
    if not spec.include_arena:
        demonstrations = demonstrations.exclude(comparison__arena=True)
    rows = (
        demonstrations.order_by("id")
        .values_list("id", "prompt_id", "prompt__messages", "text")
        .iterator(chunk_size=2000)
    )
    for demonstration_id, prompt_id, messages, text in rows:
        yield {
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages]
            + [{"role": "assistant", "content": text}],
            "prompt_id": prompt_id,
            "demonstration_id": demonstration_id,
        }


# -- Files -----------------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Where file bytes go: hashed and counted, then passed to `out` or held until taken.

    tell() reports the bytes written so far, which pyarrow uses for the Parquet footer offsets;
    it must not depend on `out` (stdout, an HTTP stream) being seekable.
    """

    def __init__(self, out: BinaryIO | None = None) -> None:
        self.out = out
        self.pending: list[bytes] = []
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: bytes) -> int:  # type: ignore[override]
        data = bytes(data)
        self.digest.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        else:
            self.pending.append(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        return data


def _export_audit(
    *, projects: Sequence[Project], spec: ExportSpec, actor: AbstractBaseUser | AnonymousUser | None
) -> None:
    spec.validate()  # a refused export leaves no trace
    for project in projects:
        audit_export(actor=actor, project=project, spec=spec)


def export_write(
    *, projects: Sequence[Project], spec: ExportSpec, out: BinaryIO, actor: AbstractBaseUser | None = None
) -> ExportResult:
    """Writes the export to `out` (JSONL, or Parquet in row groups) and says what was written; the
    audit trail records it by `actor` in each project.

    `out` only needs write(): stdout and pipes work for both formats.
    """
    _export_audit(projects=projects, spec=spec, actor=actor)
    sink = _Sink(out)
    count = sum(_file_parts(export_rows(projects=projects, spec=spec), spec, sink))
    return ExportResult(rows=count, sha256=sink.digest.hexdigest(), bytes=sink.size)


def export_chunks(
    *, projects: Sequence[Project], spec: ExportSpec, actor: AbstractBaseUser | AnonymousUser | None = None
) -> Iterator[bytes]:
    """The export file as a stream of byte chunks, for streamed HTTP responses; the audit trail
    records it by `actor` in each project.

    Validates the spec on the call, so a door can turn a bad spec into a 400 before streaming.
    """
    _export_audit(projects=projects, spec=spec, actor=actor)
    rows = export_rows(projects=projects, spec=spec)

    def chunks() -> Iterator[bytes]:
        sink = _Sink()
        for _ in _file_parts(rows, spec, sink):
            if data := sink.take():
                yield data
        if data := sink.take():
            yield data

    return chunks()


# One encoder for every line: json.dumps builds a new one per call when given options.
_JSONL_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _file_parts(rows: Iterator[dict], spec: ExportSpec, sink: _Sink) -> Iterator[int]:
    """Writes rows to `sink` piece by piece, yielding the rows in each piece once it is written."""
    if spec.file_format == "parquet":
        yield from _parquet_groups(rows, spec, sink)
        return
    encode = _JSONL_ENCODER.encode
    lines: list[bytes] = []
    for row in rows:
        lines.append((encode(row) + "\n").encode())
        if len(lines) >= 1000:
            sink.write(b"".join(lines))
            yield len(lines)
            lines = []
    sink.write(b"".join(lines))
    yield len(lines)


def parquet_schema(spec: ExportSpec):
    """The Parquet schema of an export: fixed per kind so every row group agrees."""
    import pyarrow as pa

    messages = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    text = messages if spec.conversational else pa.string()
    if spec.kind == "preference":
        columns = [("prompt", text), ("chosen", text), ("rejected", text), ("comparison_id", pa.int64())]
        if spec.ties == "keep":
            columns.append(("metadata", pa.struct([("tie", pa.bool_())])))
    elif spec.kind == "unpaired":
        columns = [
            ("prompt", text),
            ("completion", text),
            ("label", pa.bool_()),
            ("comparison_id", pa.int64()),
        ]
    elif spec.kind == "sft":
        columns = [("messages", messages), ("prompt_id", pa.int64()), ("demonstration_id", pa.int64())]
    else:
        columns = [
            ("judgment_id", pa.int64()),
            ("comparison_id", pa.int64()),
            ("prompt_id", pa.int64()),
            ("prompt", text),
            (
                "candidates",
                pa.list_(pa.struct([("id", pa.int64()), ("text", pa.string()), ("model", pa.string())])),
            ),
            ("annotator", pa.string()),
            ("source", pa.string()),
            ("ordering", pa.list_(pa.list_(pa.int64()))),
            ("tie", pa.bool_()),
            ("strength", pa.string()),
            (
                "ratings",
                pa.list_(
                    pa.struct(
                        [("candidate_id", pa.int64()), ("criterion", pa.string()), ("score", pa.float64())]
                    )
                ),
            ),
            ("rationale", pa.string()),
            ("flags", pa.list_(pa.string())),
            ("presented_order", pa.list_(pa.int64())),
            ("time_spent_ms", pa.int64()),
            ("created_at", pa.string()),
            ("updated_at", pa.string()),
        ]
    return pa.schema(columns)


def _parquet_groups(rows: Iterator[dict], spec: ExportSpec, sink: BinaryIO) -> Iterator[int]:
    """Writes rows to `sink` as Parquet, one row group per PARQUET_ROW_GROUP rows; yields each count.

    The file is complete (footer written) once the generator is exhausted.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(spec)
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                yield len(batch)
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            yield len(batch)
    yield 0
