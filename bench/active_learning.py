"""Active learning pays: reward-model held-out accuracy against labels spent, random vs uncertainty order.

    .venv/bin/python bench/active_learning.py                    # tiny local model, 42 reward models, ~5 min
    .venv/bin/python bench/active_learning.py --seeds 0 --rounds 3  # a quick look

Simulated annotators label pairs of the synthetic task (training/engine/testing/synthetic.py
`synthetic_pool`) by a hidden rule: the answer opening with the trait wins, and between answers with the
same kind of opener the one with the closing line wins. Most pool pairs differ in the opener; `--subtle` of
them only in the closing.
Both strategies start from the same random seed labels; then, each round, the current reward model (trained
by the engine, LoRA on the tiny model, from scratch on every label so far) scores the unlabelled pool with
the engine's score command, the next `--batch` pairs are taken in the strategy's order (random: a seeded
shuffle; uncertainty: smallest score gap first, `annotation.quality.ordering.uncertainty_order`, the order the
annotation queue uses), labelled by the hidden rule, and the model is trained again. Held-out accuracy is
the share of `--test` fresh pairs where the model scores the preferred answer higher.

Prints the labels → accuracy table (mean over seeds; also the accuracy on the held-out pairs that differ only
in the closing, and how many such pairs each strategy bought) and, for a few accuracy targets, the labels each
strategy first needs to reach them and the ratio random / uncertainty.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotation.quality.ordering import uncertainty_order  # noqa: E402
from training.engine.runner import run as engine_run  # noqa: E402
from training.engine.score import Scorer, score_run, score_spec_parse  # noqa: E402
from training.engine.spec import spec_from_dict  # noqa: E402
from training.engine.testing.synthetic import hidden_utility, synthetic_pool  # noqa: E402
from training.engine.testing.tiny import build_tiny_model  # noqa: E402

STRATEGIES = ("random", "uncertainty")


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def label(pair: dict[str, str]) -> dict[str, Any]:
    """A simulated annotator's judgment of a pool pair, as a conversational TRL preference row."""
    chosen, rejected = (
        (pair["a"], pair["b"])
        if hidden_utility(pair["a"]) > hidden_utility(pair["b"])
        else (pair["b"], pair["a"])
    )
    return {
        "prompt": _messages(pair["prompt"]),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


def train(
    model: str, rows: list[dict[str, Any]], directory: Path, args: argparse.Namespace, seed: int
) -> Path:
    """A reward model trained by the engine on `rows`; returns its final/ (the merged classifier)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "train.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = spec_from_dict(
        {
            "method": "reward",
            "base_model": model,
            "output_dir": str(directory / "run"),
            "train_file": str(data),
            "eval_fraction": 0,
            "seed": seed,
            "hyperparameters": {
                "max_steps": max(4, math.ceil(args.epochs * len(rows) / 16)),
                "learning_rate": args.lr,
                "per_device_train_batch_size": 16,
                "logging_steps": 1000,
                "save_steps": 10_000,
            },
        }
    )
    with contextlib.redirect_stdout(io.StringIO()):  # the trainer prints its log lines
        code = engine_run(spec)
    if code != 0:
        raise SystemExit(f"training failed: see {directory / 'run' / 'engine.log'}")
    return directory / "run" / "final"


def scores(reward_model: Path, pairs: list[dict[str, str]], directory: Path) -> list[tuple[float, float]]:
    """The reward model's (score of a, score of b) for each pair, through the engine's score command."""
    directory.mkdir(parents=True, exist_ok=True)
    items = directory / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps(
                {"candidate_id": f"{i}{side}", "messages": _messages(p["prompt"]), "completion": p[side]}
            )
            + "\n"
            for i, p in enumerate(pairs)
            for side in ("a", "b")
        )
    )
    spec = score_spec_parse(
        {
            "model": str(reward_model),
            "items_file": str(items),
            "output_file": str(directory / "scores.jsonl"),
            "batch_size": 64,
            "max_length": 256,
        }
    )
    score_run(spec, scorer=Scorer(spec))
    lines = [json.loads(line) for line in (directory / "scores.jsonl").read_text().splitlines()]
    by_id = {line["candidate_id"]: line["score"] for line in lines}
    return [(by_id[f"{i}a"], by_id[f"{i}b"]) for i in range(len(pairs))]


def accuracy(pair_scores: list[tuple[float, float]], pairs: list[dict[str, str]]) -> float:
    """The share of pairs where the higher score goes to the answer the hidden rule prefers."""
    right = sum(
        (a > b) == (hidden_utility(p["a"]) > hidden_utility(p["b"]))
        for (a, b), p in zip(pair_scores, pairs, strict=True)
    )
    return right / len(pairs)


@dataclass
class Point:
    labels: int
    accuracy: float
    closing_accuracy: float  # on the held-out pairs that differ only in the closing line
    closing_labels: int  # such pairs among the labelled ones


def simulate(
    strategy: str,
    model: str,
    pool: list[dict[str, str]],
    test: list[dict[str, str]],
    seed: int,
    root: Path,
    args: argparse.Namespace,
) -> list[Point]:
    """Accuracy after each round of one strategy: at seed + k × batch labels, and for random sampling also
    at the `--random-extra` label counts (how many random labels reach what uncertainty reached)."""
    rng = random.Random(seed)
    order = list(range(len(pool)))
    rng.shuffle(order)
    labelled = order[: args.seed_labels]  # the same seed labels for every strategy
    schedule = [args.seed_labels + args.batch * r for r in range(1, args.rounds + 1)]
    if strategy == "random":
        schedule += [n for n in args.random_extra if n > schedule[-1]]
    closing = [i for i, pair in enumerate(test) if pair["kind"] == "closing"]
    curve = []
    for round_ in range(len(schedule) + 1):
        work = root / f"{strategy}-s{seed}-r{round_}"
        final = train(model, [label(pool[i]) for i in labelled], work, args, seed)
        test_scores = scores(final, test, work / "test")
        point = Point(
            labels=len(labelled),
            accuracy=accuracy(test_scores, test),
            closing_accuracy=accuracy([test_scores[i] for i in closing], [test[i] for i in closing]),
            closing_labels=sum(pool[i]["kind"] == "closing" for i in labelled),
        )
        curve.append(point)
        print(
            f"  {strategy:<11} seed {seed} round {round_}: {point.labels:>4} labels "
            f"({point.closing_labels} closing), accuracy {point.accuracy:.3f} "
            f"(closing pairs {point.closing_accuracy:.3f})",
            flush=True,
        )
        if round_ == len(schedule):
            break
        wanted = schedule[round_] - len(labelled)
        taken = set(labelled)
        rest = [i for i in range(len(pool)) if i not in taken]
        if strategy == "random":
            rng.shuffle(rest)
            chosen = rest[:wanted]
        else:
            pair_scores = scores(final, [pool[i] for i in rest], work / "pool")
            gaps = {i: abs(a - b) for i, (a, b) in zip(rest, pair_scores, strict=True)}
            chosen = uncertainty_order(gaps)[:wanted]
        labelled = labelled + chosen
    return curve


def quiet() -> None:
    """Progress bars and per-step logs of every training would bury the table."""
    import datasets
    import transformers

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "trl", "peft", "accelerate", "training.engine"):
        logging.getLogger(name).setLevel(logging.ERROR)


def labels_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((labels for labels, acc in curve if acc >= target - 1e-9), None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pool", type=int, default=600, help="unlabelled pairs to choose from")
    parser.add_argument("--test", type=int, default=1000, help="held-out pairs")
    parser.add_argument(
        "--subtle", type=float, default=0.1, help="share of pairs differing only in the closing"
    )
    parser.add_argument("--seed-labels", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16, help="labels bought per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=3, help="epochs over the labels per reward model")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.96, 0.97, 0.98, 0.99])
    parser.add_argument(
        "--random-extra",
        type=int,
        nargs="+",
        default=[160, 256],
        help="more label counts for random sampling only, past the rounds",
    )
    args = parser.parse_args()
    quiet()

    started = time.perf_counter()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = str(build_tiny_model(root / "tiny"))
        test = synthetic_pool(args.test, seed=999, subtle_fraction=args.subtle)
        curves: dict[str, list[list[Point]]] = {s: [] for s in STRATEGIES}
        for seed in args.seeds:
            pool = synthetic_pool(args.pool, seed=100 + seed, subtle_fraction=args.subtle)
            for strategy in STRATEGIES:
                curves[strategy].append(simulate(strategy, model, pool, test, seed, root, args))

    def mean(strategy: str, labels: int, field: str) -> float | None:
        values = [getattr(p, field) for run in curves[strategy] for p in run if p.labels == labels]
        return statistics.mean(values) if len(values) == len(args.seeds) else None

    print(
        f"\npool {args.pool} pairs ({args.subtle:.0%} differ only in the closing), {args.test} held-out, "
        f"{args.seed_labels} seed labels, +{args.batch} per round, {args.epochs:g} epochs at lr {args.lr}, "
        f"seeds {' '.join(map(str, args.seeds))}; mean over seeds"
    )
    print(f"{'labels':>7} | {'accuracy':^23} | {'closing pairs':^23} | {'closing labels':^23}")
    print(f"{'':>7} | " + " | ".join(" ".join(f"{s:>11}" for s in STRATEGIES) for _ in range(3)))
    counts = sorted({p.labels for runs in curves.values() for run in runs for p in run})
    for labels in counts:
        cells = []
        for field, digits in (("accuracy", 3), ("closing_accuracy", 3), ("closing_labels", 1)):
            values = [mean(s, labels, field) for s in STRATEGIES]
            cells.append(" ".join(f"{v:>11.{digits}f}" if v is not None else f"{'-':>11}" for v in values))
        print(f"{labels:>7} | " + " | ".join(cells))
    means = {
        s: [(n, mean(s, n, "accuracy")) for n in counts if mean(s, n, "accuracy") is not None]
        for s in STRATEGIES
    }
    print("\nlabels to reach a held-out accuracy (mean over seeds; '>N': not within the N labels it bought):")
    print(f"{'accuracy':>9} {'random':>8} {'uncertainty':>12} {'ratio':>7}")
    for target in args.targets:
        need = {s: labels_to_reach(means[s], target) for s in STRATEGIES}
        shown = {s: str(need[s]) if need[s] else f">{means[s][-1][0]}" for s in STRATEGIES}
        ratio = "-"
        if need["uncertainty"]:
            ratio = f"{(need['random'] or means['random'][-1][0]) / need['uncertainty']:.2f}"
            ratio = ratio if need["random"] else f">{ratio}"
        print(f"{target:>9.3f} {shown['random']:>8} {shown['uncertainty']:>12} {ratio:>7}")
    start, end = (" ".join(f"{value:.1f}" for value in values) for values in (load, os.getloadavg()))
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s; load average (1, 5, 15 min) {start} at the start, {end} at the end")


if __name__ == "__main__":
    main()
