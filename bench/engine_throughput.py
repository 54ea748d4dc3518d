"""Training throughput of each engine method: tokens/s and peak memory, printed as a table.

    .venv/bin/python bench/engine_throughput.py                 # tiny local model, CPU or GPU
    .venv/bin/python bench/engine_throughput.py --model PATH --device cuda --steps 20 --batch 8
    .venv/bin/python bench/engine_throughput.py --size 0.5b --device cuda --steps 20 --length 512

Each method runs through the CLI (`python -m training.engine run`), exactly as Rankwise launches it, on the
synthetic preference task. Tokens are those the trainer reports as processed (`num_tokens`; for PPO,
which reports none, the generated response tokens). Time is measured from the "start" line to the last
step line of metrics.jsonl, so model loading and saving are left out. Peak memory is the engine's peak
RSS on CPU and peak allocated GPU memory on CUDA (result.json).

`--size 0.5b` builds a randomly initialised ~0.47B-parameter Llama locally
(training/engine/testing/tiny.py: 24 layers, hidden 1024, 32k vocabulary, the tiny tokenizer) and runs DPO
and reward on it: the GPU check.
`--length N` pads every answer with a neutral sentence to about N tokens per sequence, since throughput on
the synthetic rows (about 30 tokens) mostly measures per-step overhead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.engine.jsonl import jsonl_write  # noqa: E402
from training.engine.testing.synthetic import synthetic_demonstrations, synthetic_preferences  # noqa: E402
from training.engine.testing.tiny import SIZES, build_tiny_model  # noqa: E402

METHODS = ("sft", "reward", "dpo", "ppo", "rloo")
DEFAULT_METHODS = {"tiny": METHODS, "0.5b": ("dpo", "reward")}
FILLER = " Here is one more sentence that makes the answer longer without changing what it says."


def _lengthen(rows: list[dict], tokenizer, tokens: int) -> list[dict]:  # noqa: ANN001
    """Appends FILLER to every answer (chosen, rejected, or a demonstration's) until its conversation is
    about `tokens` tokens long."""
    per_filler = len(tokenizer(FILLER, add_special_tokens=False)["input_ids"])

    def longer(messages: list[dict], answer: dict) -> None:
        ids = tokenizer.apply_chat_template(messages, tokenize=True)
        count = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
        answer["content"] += FILLER * max(0, -(-(tokens - count) // per_filler))

    for row in rows:
        if "messages" in row:
            longer(row["messages"], row["messages"][-1])
        else:
            for key in ("chosen", "rejected"):
                longer(row["prompt"] + row[key], row[key][-1])
    return rows


def _parameters(model: str) -> int:
    """The causal LM's parameter count, from its config (built on the meta device: no weights loaded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model))
    return sum(p.numel() for p in skeleton.parameters())


def _run(spec: dict, workdir: Path) -> dict:
    path = workdir / f"{spec['method']}.json"
    path.write_text(json.dumps(spec))
    result = subprocess.run(
        [sys.executable, "-m", "training.engine", "run", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"{spec['method']} failed:\n{result.stderr[-3000:]}")
    out = Path(spec["output_dir"])
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    start = next(line for line in lines if line.get("event") == "start")
    steps = [
        line for line in lines if "step" in line and "train_runtime" not in line and "eval_loss" not in line
    ]
    steps = [line for line in steps if not any(key.startswith("eval_") for key in line)]
    seconds = steps[-1]["time"] - start["time"]
    tokens = max((line.get("num_tokens") or 0 for line in steps), default=0)
    if spec["method"] == "ppo":
        hp = spec["hyperparameters"]
        tokens = len(steps) * hp["per_device_train_batch_size"] * hp["response_length"]
    outcome = json.loads((out / "result.json").read_text())
    return {
        "method": spec["method"],
        "steps": steps[-1]["step"],
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / seconds if seconds > 0 else 0.0,
        "peak_memory_mb": outcome["peak_memory_mb"],
        "device": outcome["device"],
        "precision": outcome["precision"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="HF id or local path (default: a local model of --size)")
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="tiny", help="the local model to build (without --model)"
    )
    parser.add_argument("--methods", help="comma-separated (default: all; dpo,reward with --size 0.5b)")
    parser.add_argument("--steps", "--max-steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, help="pad answers to about this many tokens per sequence")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    args = parser.parse_args(argv)
    methods = args.methods.split(",") if args.methods else list(DEFAULT_METHODS[args.size])
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown method {unknown[0]} (one of {', '.join(METHODS)})")

    with tempfile.TemporaryDirectory(prefix="rankwise-bench-") as tmp:
        workdir = Path(tmp)
        model = args.model or str(build_tiny_model(workdir / "model", size=args.size))
        prefs = synthetic_preferences(256, conversational=True)
        demos = synthetic_demonstrations(256)
        if args.length:
            from training.engine.loading import tokenizer_load

            tokenizer = tokenizer_load(model)
            prefs, demos = _lengthen(prefs, tokenizer, args.length), _lengthen(demos, tokenizer, args.length)
        prefs = jsonl_write(prefs, workdir / "prefs.jsonl")
        demos = jsonl_write(demos, workdir / "demos.jsonl")
        parameters = _parameters(model)
        reward_dir = None
        rows = []
        for method in methods:
            hp = {
                "max_steps": args.steps,
                "per_device_train_batch_size": args.batch,
                "logging_steps": 1,
                "save_steps": 10_000,
            }
            if args.length:
                hp["max_length"] = max(1024, args.length + 64)
            if method == "ppo":
                hp.update(response_length=32, num_ppo_epochs=1)
            if method == "rloo":
                hp.update(max_completion_length=32, num_generations=4)
            spec = {
                "method": method,
                "base_model": model,
                "output_dir": str(workdir / method),
                "train_file": str(demos if method == "sft" else prefs),
                "eval_fraction": 0,
                "device": args.device,
                "lora": {"enabled": not args.full},
                "hyperparameters": hp,
            }
            if method in ("ppo", "rloo"):
                if reward_dir is None:
                    _run({**spec, "method": "reward", "output_dir": str(workdir / "reward-for-rl")}, workdir)
                    reward_dir = str(workdir / "reward-for-rl" / "final")
                spec["reward_model"] = reward_dir
            rows.append(_run(spec, workdir))
            if method == "reward":
                reward_dir = str(workdir / "reward" / "final")

    shape = SIZES[args.size]
    name = args.model or (
        f"local Llama {args.size} ({shape['layers']} layers, hidden {shape['hidden_size']}, random weights)"
    )
    length = f"answers padded to ~{args.length} tokens" if args.length else "synthetic rows as they are"
    print(f"model: {name}, {parameters / 1e6:,.1f}M parameters; {'full' if args.full else 'LoRA'}")
    print(f"batch {args.batch} per device; {args.steps} steps; {length}")
    print(f"{'method':<8}{'steps':>6}{'seconds':>9}{'tokens':>9}{'tokens/s':>10}{'peak MB':>9}  device")
    for row in rows:
        print(
            f"{row['method']:<8}{row['steps']:>6}{row['seconds']:>9.1f}{row['tokens']:>9.0f}"
            f"{row['tokens_per_s']:>10.0f}{row['peak_memory_mb']:>9.0f}  {row['device']}/{row['precision']}"
        )
    print("peak MB: allocated GPU memory on cuda, resident set size on cpu")


if __name__ == "__main__":
    main()
