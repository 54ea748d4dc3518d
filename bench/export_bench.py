"""Export throughput and memory on N preference pairs in PostgreSQL, against a COPY baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/export_bench.py [--pairs N]

Creates a scratch database (default rankwise_export_bench) on DATABASE_URL's server, fills it with
N pairwise comparisons judged once each (N prompts, 2N candidates, N judgments) by SQL, then:
- baseline: PostgreSQL COPY of the same rows (prompt, chosen, rejected, comparison_id as JSON
  lines, same order) to a file, in this process;
- export_write to JSONL and to Parquet, each in a fresh child process that reports its own time
  and peak RSS (so the figures are not mixed with the data load).
Prints time, rows/s, file size, peak memory and the ratio to COPY; drops the database unless --keep
(a kept database with the same number of pairs is reused by the next run, without filling).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(file_format: str, out: str) -> None:
    """Runs one export and prints {"rows", "bytes", "seconds", "rss_before_mb", "rss_peak_mb"}."""
    _django(os.environ["DATABASE_URL"])
    import pyarrow.parquet  # noqa: F401 (imported before measuring, as a web worker would have it)

    from annotation.models import Project
    from annotation.services.exporting import ExportSpec, export_write

    projects = list(Project.objects.filter(slug="bench"))
    before = _rss_mb()
    started = time.perf_counter()
    with open(out, "wb") as file:
        result = export_write(projects=projects, spec=ExportSpec(file_format=file_format), out=file)
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": result.rows, "bytes": result.bytes, "seconds": seconds,
                      "rss_before_mb": before, "rss_peak_mb": _rss_mb()}))  # fmt: skip


def fill(pairs: int) -> float:
    """N comparisons, each with a fresh prompt, two candidates and one judgment; returns seconds."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation import models

    started = time.perf_counter()
    project = models.Project.objects.create(name="Bench", slug="bench")
    users = [get_user_model().objects.create(username=f"annotator{i}") for i in range(10)]
    first_user = min(u.pk for u in users)
    t = {m.__name__: m._meta.db_table for m in (models.Prompt, models.Candidate, models.Comparison,
                                                models.ComparisonCandidate, models.Judgment)}  # fmt: skip
    statements = [
        f"""INSERT INTO {t["Prompt"]} (id, project_id, external_id, messages, metadata, content_hash, round,
                created_at)
            SELECT i, {project.pk}, '', jsonb_build_array(jsonb_build_object('role', 'user', 'content',
                   'Question ' || i || ': how would you explain ' || md5(i::text) || ' to a new colleague?')),
                   '{{}}', md5('p' || i), 0, now()
            FROM generate_series(1, {pairs}) AS i""",
        f"""INSERT INTO {t["Candidate"]} (id, prompt_id, text, model_name, generation_params, content_hash,
                round, created_at)
            SELECT c, (c + 1) / 2, 'Answer ' || c || '. ' || repeat(md5(c::text) || ' ', 4 + c % 5),
                   'model-' || c % 2, '{{}}', md5('c' || c), 0, now()
            FROM generate_series(1, {2 * pairs}) AS c""",
        f"""INSERT INTO {t["Comparison"]} (id, project_id, prompt_id, key, priority, round, judgment_count,
                created_at)
            SELECT i, {project.pk}, i, md5('k' || i), 0, 0, 1, now() FROM generate_series(1, {pairs}) AS i""",
        f"""INSERT INTO {t["ComparisonCandidate"]} (comparison_id, candidate_id, position)
            SELECT (c + 1) / 2, c, (c + 1) % 2 FROM generate_series(1, {2 * pairs}) AS c""",
        f"""INSERT INTO {t["Judgment"]} (id, comparison_id, annotator_id, source, ordering, strength, ratings,
                rationale, flags, presented_order, time_spent_ms, submission_token, created_at, updated_at)
            SELECT i, i, {first_user} + i % 10, 'annotator',
                   CASE WHEN i % 3 = 0
                        THEN jsonb_build_array(jsonb_build_array(2 * i), jsonb_build_array(2 * i - 1))
                        ELSE jsonb_build_array(jsonb_build_array(2 * i - 1), jsonb_build_array(2 * i)) END,
                   '', '{{}}', '', '[]', '[]', 1000 + i % 5000, md5('t' || i), now(), now()
            FROM generate_series(1, {pairs}) AS i""",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        # VACUUM sets the hint bits of the fresh rows now, so the first measured reader (COPY or an
        # export) does not pay for writing them.
        for table in t.values():
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


COPY_SQL = """
COPY (
    SELECT json_build_object(
        'prompt', p.messages -> -1 ->> 'content', 'chosen', chosen.text, 'rejected', rejected.text,
        'comparison_id', c.id)::text
    FROM annotation_judgment j
    JOIN annotation_comparison c ON c.id = j.comparison_id
    JOIN annotation_prompt p ON p.id = c.prompt_id
    JOIN annotation_candidate chosen ON chosen.id = (j.ordering -> 0 ->> 0)::bigint
    JOIN annotation_candidate rejected ON rejected.id = (j.ordering -> 1 ->> 0)::bigint
    ORDER BY c.id, j.id
) TO STDOUT
"""


def copy_baseline(url: str, out: str) -> tuple[float, int, int]:
    """COPY of the same rows to a file: (seconds, rows, bytes)."""
    import psycopg

    started = time.perf_counter()
    rows = 0
    with psycopg.connect(url) as connection, connection.cursor() as cursor, open(out, "wb") as file:
        with cursor.copy(COPY_SQL) as copy:
            for data in copy:
                file.write(data)
                rows += bytes(data).count(b"\n")
    return time.perf_counter() - started, rows, os.path.getsize(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--database", default="rankwise_export_bench", help="scratch database to create")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (and reuse it next time)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out)
        return
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (any database on it): the bench creates its own.")
    import psycopg

    url = _with_database(base, args.database)
    with psycopg.connect(base, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone()
        if not (exists and args.keep):
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
            admin.execute(f'CREATE DATABASE "{args.database}"')
    try:
        _django(url)
        from django.core.management import call_command

        from annotation.models import Judgment

        call_command("migrate", verbosity=0)
        if Judgment.objects.count() != args.pairs:
            if Judgment.objects.exists():
                sys.exit(f"{args.database} holds another number of pairs: drop it or name another --database")
            print(f"Filling {args.pairs} pairs ...", flush=True)
            print(f"  filled in {fill(args.pairs):.1f} s", flush=True)
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            copy_seconds, copy_rows, copy_bytes = copy_baseline(url, f"{tmp}/copy.jsonl")
            for file_format in ("jsonl", "parquet"):
                out = f"{tmp}/export.{file_format}"
                done = subprocess.run(
                    [sys.executable, __file__, "--child", file_format, "--out", out],
                    env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, check=True,
                    capture_output=True, text=True,
                )  # fmt: skip
                results[file_format] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"\n{args.pairs} preference pairs, PostgreSQL; peak RSS of a fresh process per export\n")
        header = ("", "rows", "seconds", "rows/s", "MB", "RSS MB", "+RSS MB", "vs COPY")
        line = "{:18}{:>10}{:>10}{:>12}{:>9}{:>9}{:>9}{:>9}"
        print(line.format(*header))
        copy_rate = f"{copy_rows / copy_seconds:.0f}"
        copy_mb = f"{copy_bytes / 1e6:.1f}"
        print(
            line.format(
                "COPY (baseline)", copy_rows, f"{copy_seconds:.2f}", copy_rate, copy_mb, "", "", "1.00x"
            )
        )
        for file_format, r in results.items():
            assert r["rows"] == copy_rows, f"{file_format} exported {r['rows']} rows, COPY {copy_rows}"
            growth = r["rss_peak_mb"] - r["rss_before_mb"]
            print(line.format(
                f"export {file_format}", r["rows"], f"{r['seconds']:.2f}", f"{r['rows'] / r['seconds']:.0f}",
                f"{r['bytes'] / 1e6:.1f}", f"{r['rss_peak_mb']:.0f}", f"{growth:.0f}",
                f"{r['seconds'] / copy_seconds:.2f}x",
            ))  # fmt: skip
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')


if __name__ == "__main__":
    main()
