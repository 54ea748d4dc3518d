"""Import benchmark: N prompts × 4 candidates through data_import, against two baselines.

    python bench/import_bench.py [--prompts 100000] [--chars 500] [--mode pairwise|ranking]

Uses the database of DATABASE_URL (migrated first), in a project of its own that it deletes
afterwards unless --keep. Prints the file size, then per stage the time and rate:
  baseline json.loads  read the file line by line and json.loads each line (the parse floor)
  baseline validation  JsonlReader alone: our parsing and validation, no database
  import               data_import: validation, dedupe queries and bulk inserts in one transaction
  re-import            the same file again (hash only, returns the earlier batch)
  prerender            the background pass the import queues (annotation.services.prerendering),
                       run here in-process over as many texts as the import wrote, oldest
                       unrendered first: the HTML that pages then show without rendering
and the peak memory (ru_maxrss) before and after the import, to show it does not grow with
the file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")
os.environ.setdefault("DEBUG", "false")  # measure what production runs, without DEBUG's query log

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from annotation.models import (  # noqa: E402
    Candidate,
    Comparison,
    ComparisonCandidate,
    ImportBatch,
    Judgment,
    Project,
    Prompt,
)
from annotation.services.import_formats import JsonlReader  # noqa: E402
from annotation.services.importing import data_import  # noqa: E402
from annotation.services.prerendering import texts_prerender  # noqa: E402

WORDS = "the a model answer because first then data value list code test result small large".split()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def generate(path: Path, *, prompts: int, chars: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(prompts):
            row = {
                "id": f"bench-{i}",
                "prompt": f"Question {i}: {_text(rng, chars // 4)}",
                "candidates": [
                    {
                        "text": f"Answer {i}.{j}: {_text(rng, chars)}",
                        "model": f"model-{j}",
                        "params": {"t": 0.7},
                    }
                    for j in range(4)
                ],
                "metadata": {"n": i},
            }
            out.write(json.dumps(row) + "\n")


def project_drop(project: Project) -> None:
    """Deletes a bench project with one DELETE per table: Django's cascade would load millions
    of rows into memory first."""
    steps = [
        (ComparisonCandidate, "comparison_id IN (SELECT id FROM {comparison} WHERE project_id = %s)"),
        (Judgment, "comparison_id IN (SELECT id FROM {comparison} WHERE project_id = %s)"),
        (Comparison, "project_id = %s"),
        (Candidate, "prompt_id IN (SELECT id FROM {prompt} WHERE project_id = %s)"),
        (Prompt, "project_id = %s"),
        (ImportBatch, "project_id = %s"),
    ]
    tables = {"comparison": Comparison._meta.db_table, "prompt": Prompt._meta.db_table}
    with transaction.atomic(), connection.cursor() as cursor:
        for model, where in steps:
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {where.format(**tables)}", [project.pk])
        project.delete()


def timed(label: str, fn, units: int, unit: str) -> object:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<22} {seconds:8.2f} s  {units / seconds:12,.0f} {unit}/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--chars", type=int, default=500, help="characters per candidate (about)")
    parser.add_argument("--mode", choices=["pairwise", "ranking"], default="pairwise")
    parser.add_argument("--keep", action="store_true", help="keep the bench project afterwards")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    for leftover in Project.objects.filter(slug__startswith="bench-"):  # from an interrupted run
        project_drop(leftover)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        generate(path, prompts=args.prompts, chars=args.chars)
        size = path.stat().st_size
        print(f"file: {args.prompts:,} prompts × 4 candidates, {size / 2**20:,.1f} MiB, mode {args.mode}")

        def json_floor() -> None:
            with path.open("rb") as f:
                for line in f:
                    json.loads(line)

        def validation() -> None:
            with path.open("rb") as f:
                reader = JsonlReader(f)
                for _ in reader:
                    pass
                assert reader.error_count == 0, reader.errors

        timed("baseline json.loads", json_floor, args.prompts, "lines")
        timed("baseline validation", validation, args.prompts, "lines")

        slug = f"bench-{int(time.time())}"
        project = Project.objects.create(
            name=slug,
            slug=slug,
            mode=args.mode,
            candidates_per_comparison=2 if args.mode == "pairwise" else 4,
        )
        try:
            rss_before = _rss_mib()
            start = time.perf_counter()
            with path.open("rb") as f:
                batch = timed(
                    "import",
                    lambda: data_import(project=project, file=f, file_name=path.name),
                    args.prompts,
                    "lines",
                )
            seconds = time.perf_counter() - start
            rss_after = _rss_mib()
            slots = project.candidates_per_comparison * batch.comparisons_created
            rows = batch.prompts_created + batch.candidates_created + batch.comparisons_created + slots
            print(
                f"{'':<22} {rows:,} rows written, {rows / seconds:,.0f} rows/s "
                f"({batch.prompts_created:,} prompts, {batch.candidates_created:,} candidates, "
                f"{batch.comparisons_created:,} comparisons, {slots:,} comparison slots)"
            )
            with path.open("rb") as f:
                again = timed(
                    "re-import (no-op)",
                    lambda: data_import(project=project, file=f, file_name=path.name),
                    args.prompts,
                    "lines",
                )
            assert again.pk == batch.pk
            texts = batch.prompts_created + batch.candidates_created
            rendered = timed(
                "prerender",
                lambda: texts_prerender(budget_seconds=float("inf"), limit=texts),
                texts,
                "texts",
            )
            assert rendered == texts, rendered
            print(f"peak RSS: {rss_before:,.0f} MiB before the import, {rss_after:,.0f} MiB after")
        finally:
            if not args.keep:
                project_drop(project)


if __name__ == "__main__":
    main()
