"""Autovacuum settings for the two tables every judgment updates (PostgreSQL only).

Each judgment updates its comparison (judgment_count, which the pool's index orders by) and its
lease (status), so each leaves a dead row version and dead index entries behind. At the front of
the queue those entries are what the claim walks first: with PostgreSQL's defaults a table is
vacuumed once a fifth of it is dead, 200,000 judgments on a million comparisons, and vacuum skips
the indexes while few heap pages hold dead rows, which is the case when they are the queue's
oldest rows. So these tables are vacuumed after 1 % (at least 1,000 rows) and always with their
indexes (bench/README.md, "Vacuum").
"""

from django.db import migrations

_MODELS = ("Comparison", "Assignment")
_SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "vacuum_index_cleanup": "on",
}


def _alter(apps, schema_editor, change: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in _MODELS:
        table = schema_editor.quote_name(apps.get_model("annotation", name)._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} {change}")


def _set(apps, schema_editor):
    _alter(apps, schema_editor, "SET (" + ", ".join(f"{k} = {v}" for k, v in _SETTINGS.items()) + ")")


def _reset(apps, schema_editor):
    _alter(apps, schema_editor, "RESET (" + ", ".join(_SETTINGS) + ")")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0009_prerendered_html")]

    operations = [migrations.RunPython(_set, _reset)]
