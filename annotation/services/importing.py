"""Importing prompts, candidates and preferences from JSONL files, and building comparisons.

`data_import` is the one service behind the import command, page and API. It streams the file:
a first pass hashes the raw bytes (a file imported before returns its batch at once), a second
parses, validates and writes chunk by chunk inside one transaction, so memory stays flat and any
invalid line rolls everything back. Rows are deduplicated by content hash, which makes
re-importing overlapping files harmless.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence, Set
from contextlib import ExitStack
from itertools import islice
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, JSONField, Model
from django.utils import timezone

from annotation.models import (
    Candidate,
    Comparison,
    ComparisonCandidate,
    ImportBatch,
    Judgment,
    Project,
    Prompt,
)
from annotation.quality.pairing import comparison_groups
from annotation.services.auditing import audit_import
from annotation.services.import_formats import (
    FORMATS,
    MAX_REPORTED_ERRORS,
    JsonlReader,
    Record,
)
from annotation.services.prerendering import texts_prerender_later
from annotation.services.queueing import queue_priorities_refresh
from rankwise.errors import ValidationFailed

CHUNK_LINES = 1000
BATCH_SIZE = 2000
# On PostgreSQL, rows go in with COPY, several times faster than INSERT for big imports.
USE_COPY = True
_HASH_BLOCK = 1024 * 1024
_SPOOL_BYTES = 8 * 1024 * 1024


def comparison_key(candidate_ids: Iterable[int], *, arena: bool = False) -> str:
    """sha256 of the sorted candidate ids: one comparison per set of candidates in a project, and
    apart from it one arena battle per pair (a blind battle never reuses, nor hides from exports,
    a regular comparison of the same two candidates)."""
    members = ",".join(str(i) for i in sorted(candidate_ids))
    return hashlib.sha256(f"arena:{members}".encode() if arena else members.encode()).hexdigest()


def data_import(
    *,
    project: Project,
    file: BinaryIO,
    file_name: str,
    format: str = "auto",
    as_judgments: bool = False,
    created_by: AbstractBaseUser | None = None,
) -> ImportBatch:
    """Imports a JSONL file into the project and returns its ImportBatch with the counts.

    `format` is auto | native | trl | hh. With `as_judgments`, TRL and HH rows become imported
    judgments (chosen over rejected) rather than unjudged pairs. Raises ValidationFailed with the
    first 50 problems as {"line", "field", "reason"} and writes nothing if any line is invalid.
    A file with the same bytes imported into the project before returns that earlier batch and
    writes nothing; `batch.already_imported` (not a field) tells the two cases apart. Either way the
    audit trail records the import by `created_by`.
    """
    batch = _data_import(
        project=project, file=file, file_name=file_name, format=format, as_judgments=as_judgments,
        created_by=created_by,
    )  # fmt: skip
    audit_import(actor=created_by, batch=batch)
    return batch


def _data_import(
    *,
    project: Project,
    file: BinaryIO,
    file_name: str,
    format: str,
    as_judgments: bool,
    created_by: AbstractBaseUser | None,
) -> ImportBatch:
    _format_check(format)
    with ExitStack() as stack:
        stream = _seekable(file, stack)
        start = stream.tell()
        file_sha256 = _sha256(stream)
        earlier = _batch_find(project=project, file_sha256=file_sha256)
        if earlier is not None:
            return earlier
        stream.seek(start)
        reader = JsonlReader(stream, format=format, as_judgments=as_judgments)
        with transaction.atomic():
            # One import at a time per project, so two imports of overlapping files cannot both
            # decide that the same prompt is new; comparisons_build and project_update take it
            # too. NO KEY: rows that merely reference the project can still be inserted meanwhile.
            # Read again under the lock: the mode decides the comparisons.
            project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
            earlier = _batch_find(project=project, file_sha256=file_sha256)
            if earlier is not None:
                return earlier
            counts: Counter[str] = Counter()
            for chunk in _chunks(reader, CHUNK_LINES):
                if reader.error_count:
                    continue  # keep reading to report errors, but write nothing more
                counts.update(_records_write(project=project, records=chunk))
                _debug_queries_forget()
            _reader_check(reader, file_name)
            batch = ImportBatch.objects.create(
                project=project,
                file_name=file_name[:255],
                file_sha256=file_sha256,
                format=reader.format or format,
                lines=reader.lines,
                prompts_created=counts["prompts"],
                candidates_created=counts["candidates"],
                comparisons_created=counts["comparisons"],
                judgments_created=counts["judgments"],
                created_by=created_by,
            )
    if batch.judgments_created and project.queue_order == Project.QueueOrder.DISAGREEMENT:
        queue_priorities_refresh(project=project)
    if batch.prompts_created or batch.candidates_created:
        texts_prerender_later()
    batch.already_imported = False
    return batch


def data_validate(
    *, file: BinaryIO, file_name: str, format: str = "auto", as_judgments: bool = False
) -> dict:
    """Checks a file as data_import would, writing nothing: {"format", "lines"} for a valid file,
    else ValidationFailed with the same report."""
    _format_check(format)
    reader = JsonlReader(file, format=format, as_judgments=as_judgments)
    for _ in reader:
        pass
    _reader_check(reader, file_name)
    return {"format": reader.format, "lines": reader.lines}


def upload_size_check(*, size: int | None) -> None:
    """Refuses an upload over settings.RANKWISE_MAX_UPLOAD_BYTES, for the doors that take uploads."""
    limit = settings.RANKWISE_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise ValidationFailed(
            "The file is too large.",
            details=[{"line": None, "field": "file", "reason": f"larger than the limit of {limit} bytes"}],
        )


def comparisons_build(
    *, project: Project, prompt: Prompt, candidates: Sequence[Candidate], round: int = 0
) -> int:
    """Creates the comparisons the project's mode calls for among these candidates of the prompt,
    as comparisons of `round`.

    Candidates keep the order given (it decides slots, and the reference for first_vs_rest).
    Comparisons that already exist (same set of candidates) are left alone. Returns how many
    were created. Raises ValidationFailed for a prompt of another project or candidates of
    another prompt.
    """
    if prompt.project_id != project.pk or any(c.prompt_id != prompt.pk for c in candidates):
        raise ValidationFailed(
            "Comparisons join candidates of one prompt of the project.",
            details=[
                {"line": None, "field": "candidates", "reason": "not all of this prompt in this project"}
            ],
        )
    with transaction.atomic():
        project = Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        _, created = _comparisons_create(
            project=project, groups=[(prompt.pk, [c.pk for c in candidates], round)]
        )
    return created


def comparison_pairs_build(
    *, project: Project, pairs: Sequence[tuple[int, int]], round: int = 0
) -> list[int]:
    """One arena comparison (model names hidden, left out of exports) per pair of candidate ids,
    whatever the project's mode; both candidates of a pair must be of one prompt of the project.

    A pair that is already an arena battle (same two candidates) is reused; a regular comparison of
    the same pair stays as it was, apart. Returns the comparison ids in the order of the pairs.
    Raises ValidationFailed otherwise.
    """
    wanted_ids = {c for pair in pairs for c in pair}
    prompt_of = dict(
        Candidate.objects.filter(pk__in=wanted_ids, prompt__project=project).values_list("id", "prompt_id")
    )
    if len(prompt_of) != len(wanted_ids) or any(a == b or prompt_of[a] != prompt_of[b] for a, b in pairs):
        raise ValidationFailed(
            "An arena comparison joins two different candidates of one prompt of the project.",
            details=[{"line": None, "field": "pairs", "reason": "not two candidates of one prompt here"}],
        )
    with transaction.atomic():
        # The project lock, as for imports: two builders never create the same key twice.
        Project.objects.select_for_update(no_key=True).get(pk=project.pk)
        by_key = {comparison_key(pair, arena=True): pair for pair in pairs}
        existing = dict(
            Comparison.objects.filter(project=project, key__in=list(by_key)).values_list("key", "id")
        )
        new_keys = [key for key in by_key if key not in existing]
        new_ids = _insert(
            Comparison,
            [
                {
                    "project_id": project.pk,
                    "prompt_id": prompt_of[by_key[key][0]],
                    "key": key,
                    "round": round,
                    "arena": True,
                }
                for key in new_keys
            ],
        )
        _insert(
            ComparisonCandidate,
            [
                {"comparison_id": comparison_id, "candidate_id": candidate_id, "position": position}
                for key, comparison_id in zip(new_keys, new_ids, strict=True)
                for position, candidate_id in enumerate(by_key[key])
            ],
            need_ids=False,
        )
        existing.update(zip(new_keys, new_ids, strict=True))
    return [existing[comparison_key(pair, arena=True)] for pair in pairs]


def _format_check(format: str) -> None:
    if format not in FORMATS:
        raise ValidationFailed(
            f"Unknown format {format!r}.",
            details=[{"line": None, "field": "format", "reason": f"expected one of {', '.join(FORMATS)}"}],
        )


def _reader_check(reader: JsonlReader, file_name: str) -> None:
    """Raises the report for a file the reader has read to the end, if it is not importable."""
    if reader.error_count:
        count = reader.error_count
        noun = "problem" if count == 1 else "problems"
        shown = f", showing the first {MAX_REPORTED_ERRORS}" if count > MAX_REPORTED_ERRORS else ""
        raise ValidationFailed(
            f"{file_name}: {count} {noun} found{shown}; nothing was imported.", details=reader.errors
        )
    if reader.lines == 0:
        raise ValidationFailed(
            f"{file_name} holds no records.",
            details=[{"line": None, "field": None, "reason": "empty, or only blank lines"}],
        )


def _seekable(file: BinaryIO, stack: ExitStack) -> BinaryIO:
    """The file itself when it can be read twice, else a spooled copy (on disk past 8 MB)."""
    try:
        if file.seekable():
            return file
    except (AttributeError, ValueError):
        pass
    spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES))
    shutil.copyfileobj(file, spool, _HASH_BLOCK)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := stream.read(_HASH_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _batch_find(*, project: Project, file_sha256: str) -> ImportBatch | None:
    batch = ImportBatch.objects.filter(project=project, file_sha256=file_sha256).order_by("id").first()
    if batch is not None:
        batch.already_imported = True
    return batch


def _debug_queries_forget() -> None:
    """Under DEBUG, Django keeps the SQL of the last 9,000 queries, and an import's IN lists run to
    hundreds of kB each: keep only the current chunk's. Query capture in tests is left alone."""
    db = connections[DEFAULT_DB_ALIAS]
    if settings.DEBUG and not db.force_debug_cursor:
        db.queries_log.clear()


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _records_write(*, project: Project, records: list[Record]) -> Counter[str]:
    """Writes one chunk of valid records; needs the project lock (see data_import)."""
    counts: Counter[str] = Counter()

    prompt_ids = dict(
        Prompt.objects.filter(project=project, content_hash__in={r.prompt_hash for r in records}).values_list(
            "content_hash", "id"
        )
    )
    new_prompts: dict[str, dict] = {}
    for r in records:
        if r.prompt_hash not in prompt_ids and r.prompt_hash not in new_prompts:
            # The first line with this conversation gives its id and metadata.
            new_prompts[r.prompt_hash] = {
                "project_id": project.pk,
                "external_id": r.external_id,
                "messages": r.messages,
                "metadata": r.metadata,
                "content_hash": r.prompt_hash,
                "round": r.round,
            }
    fresh_prompt_ids = _insert(Prompt, list(new_prompts.values()))
    prompt_ids.update(zip(new_prompts, fresh_prompt_ids, strict=True))
    counts["prompts"] = len(new_prompts)
    # Rows hanging off rows made just now cannot exist yet: look up only the rest. On a fresh
    # import that skips every lookup below.
    fresh_prompts = set(fresh_prompt_ids)

    wanted = {(prompt_ids[r.prompt_hash], c.content_hash) for r in records for c in r.candidates}
    wanted = {(p, h) for p, h in wanted if p not in fresh_prompts}
    candidate_ids: dict[tuple[int, str], int] = {}
    if wanted:
        candidate_ids = {
            (prompt_id, content_hash): pk
            for pk, prompt_id, content_hash in Candidate.objects.filter(
                prompt_id__in={p for p, _ in wanted}, content_hash__in={h for _, h in wanted}
            ).values_list("id", "prompt_id", "content_hash")
        }
    new_candidates: dict[tuple[int, str], dict] = {}
    for r in records:
        prompt_id = prompt_ids[r.prompt_hash]
        for c in r.candidates:
            key = (prompt_id, c.content_hash)
            if key not in candidate_ids and key not in new_candidates:
                new_candidates[key] = {
                    "prompt_id": prompt_id,
                    "text": c.text,
                    "model_name": c.model,
                    "generation_params": c.params,
                    "content_hash": c.content_hash,
                    "round": r.round,
                }
    fresh_candidate_ids = _insert(Candidate, list(new_candidates.values()))
    candidate_ids.update(zip(new_candidates, fresh_candidate_ids, strict=True))
    counts["candidates"] = len(new_candidates)

    groups = []
    for r in records:
        prompt_id = prompt_ids[r.prompt_hash]
        groups.append(
            (prompt_id, [candidate_ids[(prompt_id, c.content_hash)] for c in r.candidates], r.round)
        )
    comparison_ids, counts["comparisons"] = _comparisons_create(
        project=project, groups=groups, fresh_candidates=set(fresh_candidate_ids)
    )

    judged = [(r, ids) for r, (_, ids, _) in zip(records, groups, strict=True) if r.preference is not None]
    if judged:
        counts["judgments"] = _judgments_create(project=project, judged=judged, comparison_ids=comparison_ids)
    return counts


def _comparisons_create(
    *,
    project: Project,
    groups: Iterable[tuple[int, list[int], int]],
    fresh_candidates: Set[int] = frozenset(),
) -> tuple[dict[str, int], int]:
    """Comparisons per the project's mode for each (prompt id, candidate ids in order, round).

    Returns ({key: comparison id} for every comparison these groups call for, new or not, and
    how many were created). `fresh_candidates` were created in this transaction, so no existing
    comparison holds them. Needs the project lock.
    """
    wanted: dict[str, tuple[int, list[int], int]] = {}
    for prompt_id, ids, round in groups:
        for slots in comparison_groups(
            n=len(ids), mode=project.mode, pairing=project.pairing, k=project.candidates_per_comparison
        ):
            members = [ids[i] for i in slots]
            wanted.setdefault(comparison_key(members), (prompt_id, members, round))
    maybe_existing = [key for key, (_, members, _) in wanted.items() if fresh_candidates.isdisjoint(members)]
    ids_by_key: dict[str, int] = {}
    if maybe_existing:
        ids_by_key = dict(
            Comparison.objects.filter(project=project, key__in=maybe_existing).values_list("key", "id")
        )
    new_keys = [key for key in wanted if key not in ids_by_key]
    new_ids = _insert(
        Comparison,
        [
            {"project_id": project.pk, "prompt_id": wanted[key][0], "key": key, "round": wanted[key][2]}
            for key in new_keys
        ],
    )
    _insert(
        ComparisonCandidate,
        [
            {"comparison_id": comparison_id, "candidate_id": candidate_id, "position": position}
            for key, comparison_id in zip(new_keys, new_ids, strict=True)
            for position, candidate_id in enumerate(wanted[key][1])
        ],
        need_ids=False,
    )
    ids_by_key.update(zip(new_keys, new_ids, strict=True))
    return ids_by_key, len(new_ids)


def _judgments_create(
    *, project: Project, judged: list[tuple[Record, list[int]]], comparison_ids: dict[str, int]
) -> int:
    """Imported judgments, chosen over rejected, one per line; needs the project lock.

    The submission token comes from the project and the line's bytes, so the same line imported
    again (in this file or another) is recognised and skipped.
    """
    rows: dict[str, dict] = {}
    for record, ids in judged:
        token = hashlib.sha256(f"import:{project.pk}:{record.line_hash}".encode()).hexdigest()
        chosen, rejected = (ids[i] for i in record.preference or ())
        rows.setdefault(
            token,
            {
                "comparison_id": comparison_ids[comparison_key([chosen, rejected])],
                "annotator_id": None,
                "source": Judgment.Source.IMPORTED,
                "ordering": [[chosen], [rejected]],
                "submission_token": token,
            },
        )
    for token in Judgment.objects.filter(submission_token__in=list(rows)).values_list(
        "submission_token", flat=True
    ):
        del rows[token]
    _insert(Judgment, list(rows.values()), need_ids=False)
    # judgment_count counts every judgment, imported ones included, so pre-labelled comparisons
    # leave the annotation pool once they have `overlap` answers.
    per_comparison = Counter(row["comparison_id"] for row in rows.values())
    by_increment: dict[int, list[int]] = {}
    for comparison_id, n in per_comparison.items():
        by_increment.setdefault(n, []).append(comparison_id)
    for n, comparison_ids_ in by_increment.items():
        Comparison.objects.filter(pk__in=comparison_ids_).update(judgment_count=F("judgment_count") + n)
    return len(rows)


def _insert(model: type[Model], rows: list[dict], *, need_ids: bool = True) -> list[int]:
    """Inserts rows given as {field attname: value} and returns their ids (in order) when `need_ids`.

    Fields left out get their model default, and auto_now/auto_now_add fields the current time,
    as with bulk_create. On PostgreSQL with USE_COPY, ids are drawn from the table's sequence
    first and the rows go in with COPY (JSON fields as JSON text, which COPY's text format reads
    into jsonb); no model instances are made, which is most of the cost at this volume.
    """
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the thread-local proxy, in the hot loop
    if not (USE_COPY and db.vendor == "postgresql"):
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH_SIZE)
        return [obj.pk for obj in objs] if need_ids else []
    meta = model._meta
    now = timezone.now()
    specs = []  # (attname, default, JSON encoder or None) per column after the id
    for f in meta.concrete_fields:
        if f.primary_key:
            continue
        default = (
            now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        )
        specs.append((f.attname, default, json.dumps if isinstance(f, JSONField) else None))
    ids: list[int] = []
    with db.cursor() as cursor:
        if need_ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
        columns = [meta.pk.column] if need_ids else []
        columns += [meta.get_field(attname).column for attname, _, _ in specs]
        column_list = ", ".join(map(db.ops.quote_name, columns))
        sql = f"COPY {db.ops.quote_name(meta.db_table)} ({column_list}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for i, row in enumerate(rows):
                values = [ids[i]] if need_ids else []
                for attname, default, encode in specs:
                    value = row.get(attname, default)
                    values.append(encode(value) if encode is not None and value is not None else value)
                copy.write_row(values)
    return ids
