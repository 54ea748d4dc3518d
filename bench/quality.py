"""Time to build the quality dashboard's figures as a project grows, against reading the rows alone.

    DATABASE_URL=postgres://... python bench/quality.py [--comparisons 5000] [--annotators 6] [--overlap 3]

Creates a throw-away project (slug bench-quality-<random>) whose annotators (careful, random and
left-clicking, members with a "language" attribute of de or en) judge every comparison `overlap`
times over (careful ones pick the stronger model 85% of the time), then times: a baseline that only
reads the judgment rows, the selector (six queries), the pure report (agreement, annotator scores,
the Bradley–Terry leaderboard with 200 bootstrap rounds, and the same per attribute group), the
attribute groups alone, and the review queue selector with its reasons read (what the selector
reads, plus flags and reviews) and cached (a reload after a decision); prints the figures and
ratios, and deletes everything it created.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rankwise.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402

from annotation.models import (  # noqa: E402
    Candidate,
    Comparison,
    ComparisonCandidate,
    Judgment,
    Membership,
    Project,
    Prompt,
)
from annotation.quality import consensus  # noqa: E402
from annotation.quality.groups import attribute_groups  # noqa: E402
from annotation.quality.report import quality_report  # noqa: E402
from annotation.selectors.quality import quality_inputs_get  # noqa: E402
from annotation.selectors.review import review_queue_get  # noqa: E402

MODELS = ["small", "medium", "large", "huge"]


def _project(comparisons: int, annotators: int, overlap: int, seed: int) -> tuple[Project, list]:
    rng = random.Random(seed)
    tag = secrets.token_hex(4)
    project = Project.objects.create(name=f"bench {tag}", slug=f"bench-quality-{tag}", overlap=overlap)
    users = [get_user_model().objects.create(username=f"bench-{tag}-{i}") for i in range(annotators)]
    Membership.objects.bulk_create(
        Membership(project=project, user=u, attributes={"language": "de" if i % 2 else "en"})
        for i, u in enumerate(users)
    )
    prompts = Prompt.objects.bulk_create(
        Prompt(project=project, messages=[{"role": "user", "content": f"q{i}"}], content_hash=f"{tag}-{i}")
        for i in range(comparisons)
    )
    pairs = [rng.sample(range(len(MODELS)), 2) for _ in prompts]
    candidates = Candidate.objects.bulk_create(
        Candidate(prompt=p, text=f"a{k}", model_name=MODELS[m], content_hash=f"{p.pk}-{k}")
        for p, pair in zip(prompts, pairs, strict=True)
        for k, m in enumerate(pair)
    )
    rows = Comparison.objects.bulk_create(
        Comparison(project=project, prompt=p, key=f"{tag}-{i}", gold_ordering=None)
        for i, p in enumerate(prompts)
    )
    ComparisonCandidate.objects.bulk_create(
        ComparisonCandidate(comparison=c, candidate=candidates[2 * i + k], position=k)
        for i, c in enumerate(rows)
        for k in range(2)
    )
    judgments = []
    for i, (comparison, pair) in enumerate(zip(rows, pairs, strict=True)):
        a, b = candidates[2 * i], candidates[2 * i + 1]
        better, worse = (a, b) if pair[0] > pair[1] else (b, a)  # a later model in MODELS is stronger
        for u in rng.sample(range(annotators), overlap):
            shown = [a.pk, b.pk] if rng.random() < 0.5 else [b.pk, a.pk]
            kind = u % 4  # 0-1 careful, 2 random clicker, 3 left clicker
            if kind < 2:
                winner = better.pk if rng.random() < 0.85 else worse.pk
            elif kind == 2:
                winner = rng.choice(shown)
            else:
                winner = shown[0]
            loser = b.pk if winner == a.pk else a.pk
            judgments.append(
                Judgment(
                    comparison=comparison,
                    annotator=users[u],
                    ordering=[[winner], [loser]],
                    presented_order=shown,
                    time_spent_ms=rng.randint(1000, 12000),
                    submission_token=f"{tag}-{i}-{u}",
                )
            )
    Judgment.objects.bulk_create(judgments, batch_size=2000)
    return project, users


def _best_of(repeats: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=5000)
    parser.add_argument("--annotators", type=int, default=6)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    project, users = _project(args.comparisons, args.annotators, args.overlap, seed=1)
    try:
        judgments = Judgment.objects.filter(comparison__project=project)
        baseline, _ = _best_of(
            args.repeats, lambda: list(judgments.values_list("id", "ordering", "presented_order"))
        )
        selector, inputs = _best_of(args.repeats, lambda: quality_inputs_get(project=project))
        report_time, report = _best_of(args.repeats, lambda: quality_report(inputs))
        with_consensus = consensus.agreement_with_consensus(consensus.pair_votes(inputs.records))
        groups_time, _ = _best_of(
            args.repeats,
            lambda: attribute_groups(inputs.records, attributes=inputs.attributes, consensus=with_consensus),
        )

        def cold_queue() -> object:
            cache.clear()
            return review_queue_get(project=project)

        queue_time, queue = _best_of(args.repeats, cold_queue)
        warm_time, _ = _best_of(args.repeats, lambda: review_queue_get(project=project))
        n = len(inputs.records)
        print(f"judgments: {n} on {args.comparisons} comparisons, {args.annotators} annotators,", end=" ")
        print(f"overlap {args.overlap}")
        print(f"baseline read of the judgment rows: {baseline * 1000:8.1f} ms")
        print(f"selector (6 queries):               {selector * 1000:8.1f} ms", end="  ")
        print(f"({selector / baseline:.2f}× baseline)")
        print(f"report (stats + 200 bootstraps):    {report_time * 1000:8.1f} ms", end="  ")
        print(f"({report_time / baseline:.2f}× baseline)")
        print(f"  of which attribute groups (2):    {groups_time * 1000:8.1f} ms", end="  ")
        print(f"({groups_time / baseline:.2f}× baseline)")
        print(f"dashboard total per judgment:       {(selector + report_time) / n * 1e6:8.1f} µs")
        print(f"review queue, reasons read:         {queue_time * 1000:8.1f} ms", end="  ")
        print(f"({queue_time / baseline:.2f}× baseline; {len(queue.entries)} comparisons need review)")
        print(f"review queue, reasons cached:       {warm_time * 1000:8.1f} ms", end="  ")
        print(f"({warm_time / baseline:.2f}× baseline; what a reload after a decision costs)")
        a = report["agreement"]
        print(f"alpha ordinal {a['alpha_ordinal']:.3f}, kappa {a['fleiss_kappa']:.3f},", end=" ")
        print(f"pairwise {a['pairwise_rate']:.3f}")
        for row in report["annotators"]:
            bias = row["position_bias"]
            print(f"  annotator {row['username'][-1]}: consensus {row['consensus_agreement']:.2f}", end=" ")
            print(f"bias {bias['rate']:.2f} (p={bias['p_value']:.1e}) flags {row['flags']}")
        for row in report["leaderboard"]:
            print(f"  {row['rank']}. {row['model']:7s} {row['score']:7.1f}", end=" ")
            print(f"[{row['ci_low']:.1f}, {row['ci_high']:.1f}]")
    finally:
        project.delete()
        get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()


if __name__ == "__main__":
    main()
