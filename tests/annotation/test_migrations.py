"""Data migrations, run backwards and forwards on a database with rows in it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("annotation", "0007_arena_keys"), ("annotation", "0008_judgment_tallies")


def _migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def test_judgment_tallies_are_filled_from_the_judgments_recorded_before() -> None:
    apps = _migrate(BEFORE)
    try:
        user = apps.get_model("auth", "User").objects.create(username="early")
        Project = apps.get_model("annotation", "Project")
        Prompt = apps.get_model("annotation", "Prompt")
        Comparison = apps.get_model("annotation", "Comparison")
        Judgment = apps.get_model("annotation", "Judgment")
        projects = [Project.objects.create(name=f"P{i}", slug=f"p{i}") for i in range(2)]
        days = [datetime(2026, 11, 30, 23, 59, tzinfo=UTC), datetime(2026, 12, 1, 0, 1, tzinfo=UTC)]
        for n, (project, when) in enumerate([(projects[0], days[0]), (projects[0], days[1]),
                                             (projects[0], days[1]), (projects[1], days[1])]):  # fmt: skip
            prompt = Prompt.objects.create(project=project, messages=[], content_hash=f"h{n}")
            comparison = Comparison.objects.create(project=project, prompt=prompt, key=f"k{n}")
            judgment = Judgment.objects.create(
                comparison=comparison, annotator=user, ordering=[], submission_token=f"token-{n}"
            )
            Judgment.objects.filter(pk=judgment.pk).update(created_at=when)
        # Imported judgments have no annotator and count for nobody.
        Judgment.objects.create(
            comparison=comparison, ordering=[], submission_token="imported", source="imported"
        )

        apps = _migrate(AFTER)
        tallies = apps.get_model("annotation", "JudgmentTally").objects.order_by("project__slug", "day")
        assert [(t.project.slug, str(t.day), t.judgments) for t in tallies] == [
            ("p0", "2026-11-30", 1),
            ("p0", "2026-12-01", 2),
            ("p1", "2026-12-01", 1),
        ]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("annotation")[0])


def _reloptions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE relname = %s", [table])
        return sorted(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="autovacuum is PostgreSQL's")
def test_the_tables_each_judgment_updates_are_vacuumed_early_and_with_their_indexes() -> None:
    tuned = [
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_threshold=1000",
        "vacuum_index_cleanup=on",
    ]
    tables = ("annotation_comparison", "annotation_assignment")
    assert [_reloptions(table) for table in tables] == [tuned, tuned]
    try:
        _migrate(("annotation", "0009_prerendered_html"))
        assert [_reloptions(table) for table in tables] == [[], []]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("annotation")[0])
    assert [_reloptions(table) for table in tables] == [tuned, tuned]
