"""Recording annotators' judgments: validate, check the lease, write once per submission token, edit later."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.models import (
    Assignment,
    Comparison,
    ComparisonCandidate,
    Demonstration,
    Judgment,
    JudgmentTally,
    Project,
)
from annotation.services.assigning import assignment_check
from annotation.services.queueing import comparison_disagreement_update
from rankwise import rows
from rankwise.errors import Conflict, NotAllowed, NotFound, ValidationFailed

_ASSIGNMENTS = Assignment._meta.db_table
_COMPARISONS = Comparison._meta.db_table
_JUDGMENTS = Judgment._meta.db_table
_TALLIES = JudgmentTally._meta.db_table

RATIONALE_MAX = 20_000
DEMONSTRATION_MAX = 100_000
TOKEN_MAX = 64
# A day on one item is a forgotten tab, not work: clamp so one outlier cannot skew timing statistics.
TIME_SPENT_MAX_MS = 24 * 60 * 60 * 1000

# Tiers of candidate ids, best first; candidates sharing a tier are tied: ((a, b),) is a tie.
Ordering = tuple[tuple[int, ...], ...]

_ANSWER_REFUSED = "This answer cannot be recorded: "
_STRENGTH_PAIR = "only when one of two candidates is preferred"
_NOT_THE_CANDIDATES = "must order exactly this item's candidates"


@dataclass(frozen=True)
class Answer:
    """What an annotator says about one comparison, in canonical form: answer_parse builds it from
    raw input and checks it against the project's settings; answer_check checks it against an
    item's candidates (the services do, under their locks)."""

    ordering: Ordering
    strength: str = ""
    # {candidate id (as text): {criterion: score}}. Left out of the hash: a dict cannot be hashed.
    ratings: Mapping[str, Mapping[str, int]] = field(default_factory=dict, hash=False)
    rationale: str = ""
    flags: tuple[str, ...] = ()
    # None: no demonstration (judgment_edit leaves the recorded one alone); "": none (edit removes it).
    demonstration_text: str | None = None
    based_on: int | None = None


def _problem(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "reason": reason}


def _refused(problems: list[dict[str, str]]) -> ValidationFailed:
    return ValidationFailed(_ANSWER_REFUSED + problems[0]["reason"] + ".", details=problems)


def _ordering_read(raw: object) -> tuple[list[tuple[int, ...]], dict[str, str] | None]:
    """The tiers of a raw ordering, and its problem if any (the tiers then stop where it was found)."""
    tiers: list[tuple[int, ...]] = []
    if not isinstance(raw, list) or not raw:
        return tiers, _problem("ordering", "a non-empty list of tiers of candidate ids")
    for tier in raw:
        if not isinstance(tier, list) or not tier or not all(type(i) is int for i in tier):
            return tiers, _problem("ordering", "each tier is a non-empty list of candidate ids")
        tiers.append(tuple(tier))
    seen = [i for tier in tiers for i in tier]
    if len(seen) != len(set(seen)):
        return tiers, _problem("ordering", "a candidate appears more than once")
    return tiers, None


def ordering_parse(raw: object) -> Ordering:
    """A raw ordering (a non-empty list of non-empty lists of candidate ids, each id once) as tiers,
    or ValidationFailed (field "ordering"). Which candidates it must hold is answer_check's part."""
    tiers, problem = _ordering_read(raw)
    if problem is not None:
        raise _refused([problem])
    return tuple(tiers)


def answer_parse(raw: Mapping[str, object], *, project: Project) -> Answer:
    """The answer in `raw` (ordering, and optionally strength, ratings, rationale, flags,
    demonstration_text, based_on) in canonical form, or ValidationFailed listing every problem
    found, then the demonstration's first.

    ordering: tiers of candidate ids, best first, each candidate once ([[a, b]] is a tie).
    strength: one of Judgment.Strength, only with two tiers. ratings: {candidate id: {criterion:
    1..scale}} on the project's criteria. flags: a subset of Judgment.FLAGS. demonstration_text:
    only where the project asks for demonstrations; based_on counts only with a text.
    """
    tiers, ordering_problem = _ordering_read(raw.get("ordering"))
    problems = [ordering_problem] if ordering_problem is not None else []

    strength = raw.get("strength", "") or ""
    if strength not in Judgment.Strength.values:
        problems.append(_problem("strength", f"one of {', '.join(v for v in Judgment.Strength.values if v)}"))
    elif strength and len(tiers) != 2:
        problems.append(_problem("strength", _STRENGTH_PAIR))

    clean_ratings = _ratings_read(raw.get("ratings"), project=project, problems=problems)

    rationale = raw.get("rationale", "")
    if not isinstance(rationale, str):
        problems.append(_problem("rationale", "text"))
        rationale = ""
    elif len(rationale) > RATIONALE_MAX:
        problems.append(_problem("rationale", f"at most {RATIONALE_MAX} characters"))

    flags = raw.get("flags") or []
    if not isinstance(flags, list) or not all(f in Judgment.FLAGS for f in flags):
        problems.append(_problem("flags", f"a list of {', '.join(Judgment.FLAGS)}"))
        flags = []

    if problems:
        raise _refused(problems)
    demonstration_text, based_on = _demonstration_read(
        raw.get("demonstration_text"), raw.get("based_on"), project=project
    )
    return Answer(
        ordering=tuple(tiers),
        strength=str(strength),
        ratings=clean_ratings,
        rationale=rationale.strip(),
        flags=tuple(sorted(set(flags), key=Judgment.FLAGS.index)),
        demonstration_text=demonstration_text,
        based_on=based_on,
    )


def _ratings_read(
    ratings: object, *, project: Project, problems: list[dict[str, str]]
) -> dict[str, dict[str, int]]:
    """The scores of raw ratings that are on the project's criteria and scale; a problem for each
    that is not (appended to `problems`)."""
    clean: dict[str, dict[str, int]] = {}
    criteria = set(project.rating_criteria or [])
    if ratings in (None, {}):
        return clean
    if not isinstance(ratings, Mapping):
        problems.append(_problem("ratings", "an object of candidate id to {criterion: score}"))
        return clean
    for key, scores in ratings.items():
        if not isinstance(scores, Mapping):
            problems.append(_problem("ratings", f"scores of {key} must be an object"))
            continue
        for criterion, score in scores.items():
            if criterion not in criteria:
                problems.append(_problem("ratings", f"{criterion!r} is not a criterion of this project"))
            elif type(score) is not int or not 1 <= score <= project.rating_scale_max:
                problems.append(_problem("ratings", f"scores are whole numbers 1–{project.rating_scale_max}"))
            else:
                clean.setdefault(str(key), {})[criterion] = score
    return clean


def _demonstration_read(text: object, based_on: object, *, project: Project) -> tuple[str | None, int | None]:
    if text is None:
        return None, None
    if not isinstance(text, str):
        raise ValidationFailed(
            "The demonstration must be text.", details=[_problem("demonstration_text", "text")]
        )
    if text.strip() and not project.asks_demonstrations:
        raise ValidationFailed(
            "This project does not ask for demonstrations.",
            details=[_problem("demonstration_text", "not asked by this project")],
        )
    if len(text) > DEMONSTRATION_MAX:
        raise ValidationFailed(
            "The demonstration is too long.",
            details=[_problem("demonstration_text", f"at most {DEMONSTRATION_MAX} characters")],
        )
    if based_on is not None and type(based_on) is not int:
        # Whatever it is, it is no candidate of the item: the refusal answer_check gives.
        raise _not_from_the_item()
    return text.strip(), based_on


def _not_from_the_item() -> ValidationFailed:
    return ValidationFailed(
        "The demonstration must start from a candidate of this item.",
        details=[_problem("based_on", "not a candidate of this item")],
    )


def answer_check(*, answer: Answer, candidate_ids: Sequence[int]) -> None:
    """ValidationFailed unless the answer is about exactly these candidates (an item's): its
    ordering holds each of them once, a strength only for a pair, ratings only of them (every
    problem found), then the demonstration starts from one of them or from none."""
    problems: list[dict[str, str]] = []
    if sorted(i for tier in answer.ordering for i in tier) != sorted(candidate_ids):
        problems.append(_problem("ordering", _NOT_THE_CANDIDATES))
    if answer.strength and (len(candidate_ids) != 2 or len(answer.ordering) != 2):
        problems.append(_problem("strength", _STRENGTH_PAIR))
    candidates = {str(i) for i in candidate_ids}
    problems.extend(
        _problem("ratings", f"{key} is not a candidate of this item")
        for key in answer.ratings
        if key not in candidates
    )
    if problems:
        raise _refused(problems)
    if (
        answer.demonstration_text is not None
        and answer.based_on is not None
        and answer.based_on not in candidate_ids
    ):
        raise _not_from_the_item()


def _stored(answer: Answer) -> dict[str, object]:
    """The answer's Judgment fields, as JSON fields hold them (lists and dicts)."""
    return {
        "ordering": [list(tier) for tier in answer.ordering],
        "strength": answer.strength,
        "ratings": {key: dict(scores) for key, scores in answer.ratings.items()},
        "rationale": answer.rationale,
        "flags": list(answer.flags),
    }


def _candidate_ids(comparison: Comparison) -> list[int]:
    return list(comparison.slots.order_by("position").values_list("candidate_id", flat=True))


def _token_check(token: object) -> str:
    if not isinstance(token, str) or not 8 <= len(token) <= TOKEN_MAX:
        raise ValidationFailed(
            "Every submission needs a client token.",
            details=[_problem("submission_token", f"8 to {TOKEN_MAX} characters")],
        )
    return token


TOKEN_REUSED = "This submission token was already used for another answer."


def _replayed(*, token: str, annotator: AbstractBaseUser, assignment_id: int) -> Judgment | None:
    """The judgment an earlier request with this token recorded on this lease, if any (a retry or a
    double click). Raises Conflict when the token recorded something else: another annotator's
    answer, or an answer on another lease (of this project or another)."""
    judgment = Judgment.objects.filter(submission_token=token).first()
    if judgment is not None and (judgment.annotator_id, judgment.assignment_id) != (
        annotator.pk,
        assignment_id,
    ):
        raise Conflict(TOKEN_REUSED)
    return judgment


def judgment_submit(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    assignment_id: int,
    submission_token: str,
    answer: Answer,
    time_spent_ms: int = 0,
) -> Judgment:
    """Record the annotator's answer (answer_parse) on their lease, exactly once per submission token.

    A request repeating a token returns the judgment the first one recorded. Refuses (Conflict)
    an expired, skipped or already answered lease, (NotAllowed) another annotator's lease,
    (NotFound) another project's and (ValidationFailed) an answer about other candidates than the
    item's (answer_check). Saves a Demonstration when the answer has text for one.
    """
    token = _token_check(submission_token)
    try:
        with transaction.atomic():
            # Lock order: comparison, then assignment. The claim in assigning takes the same
            # comparison lock before counting room, so a lease cannot expire "between" this check
            # and the judgment being counted. The lease, the item's candidates and an earlier
            # judgment with this token come in the same statement: this runs on every submission.
            lease = _lease_locked(project=project, assignment_id=assignment_id, token=token)
            if lease is None:
                if Judgment.objects.filter(submission_token=token).exists():
                    raise Conflict(TOKEN_REUSED)
                raise NotFound("This item is not part of this project.")
            assignment = lease.assignment
            if lease.replay_id is not None:
                if (lease.replay_annotator_id, lease.replay_assignment_id) != (annotator.pk, assignment.pk):
                    raise Conflict(TOKEN_REUSED)
                return Judgment.objects.get(pk=lease.replay_id)
            if type(time_spent_ms) is not int or time_spent_ms < 0:
                raise ValidationFailed(
                    "Time spent must be a whole number of milliseconds.",
                    details=[_problem("time_spent_ms", "a whole number >= 0")],
                )
            answer_check(answer=answer, candidate_ids=lease.candidate_ids)
            # The clock is read only once we hold the lock: a claim that saw this lease as expired
            # has committed by now, and read an earlier time than this.
            now = timezone.now()
            try:
                assignment_check(assignment=assignment, annotator=annotator, now=now)
            except Conflict:
                # A request with this token may have committed while we waited for the lock.
                replay = _replayed(token=token, annotator=annotator, assignment_id=assignment_id)
                if replay is not None:
                    return replay
                raise
            judgment = _judgment_record(
                project=project,
                assignment=assignment,
                prompt_id=lease.prompt_id,
                annotator=annotator,
                token=token,
                answer=answer,
                time_spent_ms=min(time_spent_ms, TIME_SPENT_MAX_MS),
                now=now,
            )
            if project.queue_order == Project.QueueOrder.DISAGREEMENT:
                comparison_disagreement_update(comparison_id=assignment.comparison_id)
            return judgment
    except IntegrityError:
        # Two requests with one token raced past the checks; the first one's row stands.
        replay = _replayed(token=token, annotator=annotator, assignment_id=assignment_id)
        if replay is None:
            raise
        return replay


@dataclass(frozen=True)
class _LockedLease:
    assignment: Assignment
    prompt_id: int
    # The comparison's candidates, in slot order.
    candidate_ids: list[int]
    # The judgment already recorded with this submission token, if any, its annotator and its lease.
    replay_id: int | None
    replay_annotator_id: int | None
    replay_assignment_id: int | None


def _lease_locked(*, project: Project, assignment_id: int, token: str) -> _LockedLease | None:
    """The assignment with what a submission needs of its comparison and of an earlier judgment with
    this token, or None when the project has no such assignment; locks the comparison and the
    assignment, in that order."""
    lock = " FOR UPDATE OF c, a" if connection.features.has_select_for_update_of else ""
    slots = rows.instances(
        Assignment,
        f"SELECT {rows.columns(Assignment, 'a')}, c.prompt_id, s.candidate_id, r.id, r.annotator_id,"
        " r.assignment_id"
        f" FROM {_ASSIGNMENTS} a JOIN {_COMPARISONS} c ON c.id = a.comparison_id"
        f" JOIN {ComparisonCandidate._meta.db_table} s ON s.comparison_id = c.id"
        f" LEFT JOIN {_JUDGMENTS} r ON r.submission_token = %(token)s"
        f" WHERE a.id = %(assignment)s AND c.project_id = %(project)s ORDER BY s.position{lock}",
        {"token": token, "assignment": assignment_id, "project": project.pk},
    )
    if not slots:
        return None
    assignment, (prompt_id, _, replay_id, replay_annotator_id, replay_assignment_id) = slots[0]
    return _LockedLease(
        assignment=assignment,
        prompt_id=prompt_id,
        candidate_ids=[candidate_id for _, (_, candidate_id, _, _, _) in slots],
        replay_id=replay_id,
        replay_annotator_id=replay_annotator_id,
        replay_assignment_id=replay_assignment_id,
    )


def _judgment_record(
    *,
    project: Project,
    assignment: Assignment,
    prompt_id: int,
    annotator: AbstractBaseUser,
    token: str,
    answer: Answer,
    time_spent_ms: int,
    now: datetime,
) -> Judgment:
    """Write the judgment and its side rows (the lease, the comparison's count, the annotator's
    tally for the day). Needs the comparison and assignment locks held."""
    values = {
        "id": None,
        "comparison_id": assignment.comparison_id,
        "assignment_id": assignment.pk,
        "annotator_id": annotator.pk,
        "source": Judgment.Source.ANNOTATOR.value,
        **_stored(answer),
        "presented_order": assignment.presented_order,
        "time_spent_ms": time_spent_ms,
        "submission_token": token,
        "created_at": now,
        "updated_at": now,
    }
    json_fields = {"ordering", "ratings", "flags", "presented_order"}
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        name: json.dumps(value) if name in json_fields else adapt(value) if name.endswith("_at") else value
        for name, value in values.items()
        if name != "id"
    }
    judgment_insert = (
        f"INSERT INTO {_JUDGMENTS} ({', '.join(params)}) VALUES"
        f" ({', '.join(f'%({name})s' for name in params)}) RETURNING id"
    )
    params.update(
        submitted=Assignment.Status.SUBMITTED.value,
        project=project.pk,
        day=connection.ops.adapt_datefield_value(timezone.localdate(now)),
    )
    side_rows = [
        f"UPDATE {_ASSIGNMENTS} SET status = %(submitted)s, finished_at = %(created_at)s"
        " WHERE id = %(assignment_id)s",
        f"UPDATE {_COMPARISONS} SET judgment_count = judgment_count + 1 WHERE id = %(comparison_id)s",
        f"INSERT INTO {_TALLIES} (project_id, annotator_id, day, judgments)"
        " VALUES (%(project)s, %(annotator_id)s, %(day)s, 1) ON CONFLICT (project_id, annotator_id, day)"
        f" DO UPDATE SET judgments = {_TALLIES}.judgments + 1",
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One round trip: each data-modifying WITH runs exactly once, on its own table.
            cursor.execute(
                f"WITH judgment AS ({judgment_insert}), "
                + ", ".join(f"side_{i} AS ({sql})" for i, sql in enumerate(side_rows))
                + " SELECT id FROM judgment",
                params,
            )
            values["id"] = cursor.fetchone()[0]
        else:
            cursor.execute(judgment_insert, params)
            values["id"] = cursor.fetchone()[0]
            for sql in side_rows:
                cursor.execute(sql, params)
    if answer.demonstration_text:
        Demonstration.objects.create(
            prompt_id=prompt_id,
            comparison_id=assignment.comparison_id,
            annotator=annotator,
            based_on_id=answer.based_on,
            text=answer.demonstration_text,
            submission_token=token,
        )
    return Judgment.from_db(connection.alias, list(values), list(values.values()))


def judgment_edit(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    judgment_id: int,
    answer: Answer,
) -> Judgment:
    """Change the annotator's own judgment to `answer` (answer_parse) while
    project.edit_window_minutes have not passed.

    The answer's demonstration_text None leaves the demonstration alone; "" removes it; text
    replaces it.
    """
    with transaction.atomic():
        judgment = (
            Judgment.objects.select_for_update()
            .filter(pk=judgment_id, comparison__project=project)
            .select_related("comparison")
            .first()
        )
        if judgment is None:
            raise NotFound("No such judgment in this project.")
        if judgment.annotator_id != annotator.pk:
            raise NotAllowed("You can only change your own judgments.")
        if timezone.now() > judgment.created_at + timedelta(minutes=project.edit_window_minutes):
            raise Conflict(
                f"Judgments can be changed for {project.edit_window_minutes} minutes; this one is older."
            )
        answer_check(answer=answer, candidate_ids=_candidate_ids(judgment.comparison))
        stored = _stored(answer)
        for name, value in stored.items():
            setattr(judgment, name, value)
        judgment.save(update_fields=[*stored, "updated_at"])
        if project.queue_order == Project.QueueOrder.DISAGREEMENT:
            # The comparison lock, as judgment_submit holds it: concurrent edits see each other's orderings.
            Comparison.objects.select_for_update().filter(pk=judgment.comparison_id).values_list("pk").first()
            comparison_disagreement_update(comparison_id=judgment.comparison_id)
        if answer.demonstration_text is not None:
            _demonstration_replace(
                judgment=judgment,
                annotator=annotator,
                text=answer.demonstration_text,
                based_on=answer.based_on,
            )
        return judgment


def _demonstration_replace(
    *, judgment: Judgment, annotator: AbstractBaseUser, text: str, based_on: int | None
) -> None:
    existing = Demonstration.objects.filter(comparison_id=judgment.comparison_id, annotator=annotator)
    if not text:
        existing.delete()
        return
    updated = existing.update(text=text, based_on_id=based_on, updated_at=timezone.now())
    if not updated:
        Demonstration.objects.create(
            prompt_id=judgment.comparison.prompt_id,
            comparison_id=judgment.comparison_id,
            annotator=annotator,
            based_on_id=based_on,
            text=text,
        )
