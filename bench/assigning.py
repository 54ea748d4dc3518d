"""Lease + submit throughput of the assigning and judging services, against a plain-SELECT baseline.

    DATABASE_URL=postgres://... python bench/assigning.py [--comparisons 2000] [--annotators 8] [--overlap 2]

Creates a throw-away project (slug bench-assigning-<random>) with N comparisons, lets the annotators
pull and submit until the queue is empty (sequentially, then with one thread per annotator), times
a baseline of one SELECT by primary key per item in the same run, prints the figures and the ratio,
and deletes everything it created. Meant for PostgreSQL; it runs on SQLite too, without the locking.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections  # noqa: E402

from annotation.models import Candidate, Comparison, ComparisonCandidate, Membership, Project, Prompt  # noqa: E402
from annotation.services.assigning import comparison_lease  # noqa: E402
from annotation.services.judging import Answer, judgment_submit  # noqa: E402


def _project(comparisons: int, overlap: int, annotators: int) -> tuple[Project, list]:
    tag = secrets.token_hex(4)
    project = Project.objects.create(name=f"bench {tag}", slug=f"bench-assigning-{tag}", overlap=overlap)
    prompts = Prompt.objects.bulk_create(
        Prompt(project=project, messages=[{"role": "user", "content": f"q{i}"}], content_hash=f"{tag}-{i}")
        for i in range(comparisons)
    )
    candidates = Candidate.objects.bulk_create(
        Candidate(prompt=p, text=f"answer {j} to {p.pk}", content_hash=f"{p.pk}-{j}")
        for p in prompts
        for j in (0, 1)
    )
    items = Comparison.objects.bulk_create(
        Comparison(project=project, prompt=p, key=f"{tag}-{p.pk}") for p in prompts
    )
    ComparisonCandidate.objects.bulk_create(
        ComparisonCandidate(comparison=c, candidate=candidates[2 * i + j], position=j)
        for i, c in enumerate(items)
        for j in (0, 1)
    )
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bench-{tag}-{i}") for i in range(annotators)
    )
    Membership.objects.bulk_create(Membership(project=project, user=u) for u in users)
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would gather on a live database: without them the planner
        # guesses one open comparison and sorts them all instead of walking the pool-order index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotation_comparison, annotation_assignment, annotation_judgment")
    return project, users


def _drain(project: Project, user, counter: list[int]) -> None:
    """Pull and submit until nothing is left for this annotator."""
    while (lease := comparison_lease(project=project, annotator=user)) is not None:
        first, second = lease.presented_order
        judgment_submit(
            project=project,
            annotator=user,
            assignment_id=lease.pk,
            submission_token=secrets.token_hex(16),
            answer=Answer(ordering=((first,), (second,))),
        )
        counter.append(1)


def _thread(project: Project, user, counter: list[int]) -> None:
    try:
        _drain(project, user, counter)
    finally:
        connection.close()  # each thread has its own connection


def _run(project: Project, users: list, parallel: bool) -> tuple[int, float]:
    counter: list[int] = []
    started = time.perf_counter()
    if parallel:
        threads = [threading.Thread(target=_thread, args=(project, u, counter)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for user in users:
            _drain(project, user, counter)
    return len(counter), time.perf_counter() - started


def _baseline(project: Project, n: int) -> float:
    ids = list(Comparison.objects.filter(project=project).values_list("pk", flat=True))
    started = time.perf_counter()
    for i in range(n):
        Comparison.objects.get(pk=ids[i % len(ids)])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=1000)
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--overlap", type=int, default=2)
    args = parser.parse_args()
    vendor = connections["default"].vendor
    print(f"database: {vendor}; {args.comparisons} comparisons, overlap {args.overlap}, ", end="")
    print(f"{args.annotators} annotators")
    for parallel in (False, True):
        project, users = _project(args.comparisons, args.overlap, args.annotators)
        try:
            cycles, seconds = _run(project, users, parallel)
            base = _baseline(project, cycles)
            assert cycles == args.comparisons * min(args.overlap, args.annotators), cycles
            mode = f"{len(users)} threads" if parallel else "sequential"
            print(
                f"{mode:>12}: {cycles} lease+submit cycles in {seconds:.2f} s = {cycles / seconds:,.0f}/s "
                f"({1000 * seconds / cycles:.2f} ms each); baseline SELECT by pk {cycles / base:,.0f}/s "
                f"({1000 * base / cycles:.3f} ms); ratio {seconds / base:.1f}x the baseline"
            )
        finally:
            get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
            project.delete()


if __name__ == "__main__":
    main()
