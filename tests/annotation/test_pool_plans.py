"""The pool's statements cost the same for an annotator with a long history under any plan (PostgreSQL).

Prepared statements run on a generic plan, which knows only the average annotator. These tests take
statistics while annotators have judged one item each, then give one annotator a long history, and
read the generic plan of the counts with EXPLAIN ANALYZE: the rows it reads of the judgments and
leases must not grow with that history. The claim's plan, likewise, must not look into annotators'
histories on the rows that other annotators' leases fill.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from psycopg import sql

from annotation.models import Assignment, Comparison, Judgment, Project
from annotation.selectors import annotating as selectors
from annotation.services.assigning import _Claim
from tests.factories import MembershipFactory, PromptFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="generic plans are PostgreSQL's"),
]

HISTORY = 3000
_HISTORY_TABLES = {"annotation_judgment", "annotation_assignment"}


def _judged(annotator, comparisons: list[Comparison]) -> None:
    Judgment.objects.bulk_create(
        Judgment(comparison=c, annotator=annotator, ordering=[], submission_token=f"t-{annotator.pk}-{c.pk}")
        for c in comparisons
    )


def _comparisons(project: Project, n: int, start: int, judged: bool) -> list[Comparison]:
    prompt = PromptFactory(project=project)
    return Comparison.objects.bulk_create(
        Comparison(project=project, prompt=prompt, key=f"k{start + i}", judgment_count=int(judged))
        for i in range(n)
    )


def _history_rows(plan: dict) -> int:
    """Rows the plan's nodes read from the judgment and lease tables, or replayed from a buffer."""
    rows = 0
    if plan.get("Relation Name") in _HISTORY_TABLES or plan["Node Type"] == "Materialize":
        rows += plan["Actual Rows"] * plan["Actual Loops"]
    return rows + sum(_history_rows(child) for child in plan.get("Plans", []))


def _generic_plan(call) -> dict:
    """The generic plan of the one statement `call` runs, executed with its parameters."""
    captured = []

    def capture(execute, statement, params, many, context):
        captured.append((statement, params))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(capture):
        call()
    ((statement, params),) = captured
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    prepared = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    with connection.cursor() as cursor:
        raw = cursor.connection
        cursor.execute(f"PREPARE pool_counts AS {prepared}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        values = sql.SQL(", ").join(sql.Literal(params[name]) for name in names).as_string(raw)
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE pool_counts({values})")
        plan = cursor.fetchone()[0]
        cursor.execute("DEALLOCATE pool_counts")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def test_the_counts_do_not_read_an_annotators_history(project: Project) -> None:
    annotators = [UserFactory(password=None) for _ in range(40)]
    for annotator in annotators:
        MembershipFactory(project=project, user=annotator)
    heavy, light = annotators[:2]
    _comparisons(project, 200, 0, judged=False)
    for i, annotator in enumerate(annotators):
        _judged(annotator, _comparisons(project, 1, 1000 + i, judged=True))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_judgment, annotation_assignment, annotation_comparison")
    _judged(heavy, _comparisons(project, HISTORY, 10_000, judged=True))

    plans = {
        who: _generic_plan(lambda who=who: selectors.queue_counts(project=project, annotator=who, fresh=True))
        for who in (heavy, light)
    }
    assert _history_rows(plans[heavy]) < HISTORY / 10, json.dumps(plans[heavy], indent=1)
    assert _history_rows(plans[heavy]) <= _history_rows(plans[light]) + 10
    counts = selectors.queue_counts(project=project, annotator=heavy, fresh=True)
    assert (counts.remaining, counts.remaining_capped) == (100, True)


def _loops_on(plan: dict, table: str) -> int:
    """How many times the plan's nodes scanned `table`."""
    loops = plan["Actual Loops"] if plan.get("Relation Name") == table else 0
    return loops + sum(_loops_on(child, table) for child in plan.get("Plans", []))


def test_the_claim_probes_a_history_only_on_rows_with_room(project: Project) -> None:
    """The claim walks past the rows other annotators hold at the front of the queue with one
    probe each (their leases), not three: the history probes run on the row it takes alone."""
    project.overlap = 1
    project.save(update_fields=["overlap"])
    holders = [UserFactory(password=None) for _ in range(30)]
    annotator = UserFactory(password=None)
    now = timezone.now()
    held = _comparisons(project, len(holders), 0, judged=False)
    Assignment.objects.bulk_create(
        Assignment(comparison=c, annotator=holder, leased_at=now, expires_at=now + timedelta(hours=1))
        for c, holder in zip(held, holders, strict=True)
    )
    _comparisons(project, 1, 100, judged=False)

    claim = _Claim(project=project, annotator=annotator, now=now)
    plan = _generic_plan(lambda: claim.first_free(selectors.POOL_REGULAR, only_if_idle=True))

    # Past every held row (a lease probe each), and into the history on the free one alone.
    assert _loops_on(plan, "annotation_assignment") > len(holders), json.dumps(plan, indent=1)
    assert _loops_on(plan, "annotation_judgment") == 1, json.dumps(plan, indent=1)
