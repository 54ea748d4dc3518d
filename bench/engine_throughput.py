"""Training throughput of each engine method: tokens/s and peak memory, printed as a table.

    .venv/bin/python bench/engine_throughput.py                 # tiny local model, CPU or GPU
    .venv/bin/python bench/engine_throughput.py --model PATH --device cuda --steps 20 --batch 8

Each method runs through the CLI (`python -m training.engine run`), exactly as Rankwise launches it, on the
synthetic preference task. Tokens are those the trainer reports as processed (`num_tokens`; for PPO,
which reports none, the generated response tokens). Time is measured from the "start" line to the last
step line of metrics.jsonl, so model loading and saving are left out. Peak memory is the engine's peak
RSS on CPU and peak allocated GPU memory on CUDA (result.json).
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

from training.engine.synthetic import jsonl_write, synthetic_demonstrations, synthetic_preferences  # noqa: E402
from training.engine.tiny import build_tiny_model  # noqa: E402

METHODS = ("sft", "reward", "dpo", "ppo", "rloo")


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
    parser.add_argument("--model", help="HF id or local path (default: the tiny local Llama)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="rankwise-bench-") as tmp:
        workdir = Path(tmp)
        model = args.model or str(build_tiny_model(workdir / "tiny"))
        prefs = jsonl_write(synthetic_preferences(256, conversational=True), workdir / "prefs.jsonl")
        demos = jsonl_write(synthetic_demonstrations(256), workdir / "demos.jsonl")
        reward_dir = None
        rows = []
        for method in args.methods.split(","):
            hp = {
                "max_steps": args.steps,
                "per_device_train_batch_size": args.batch,
                "logging_steps": 1,
                "save_steps": 10_000,
            }
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

    name = args.model or "tiny local Llama (2 layers, hidden 64)"
    print(f"model: {name}; batch {args.batch}; {args.steps} steps")
    print(f"{'method':<8}{'steps':>6}{'seconds':>9}{'tokens':>9}{'tokens/s':>10}{'peak MB':>9}  device")
    for row in rows:
        print(
            f"{row['method']:<8}{row['steps']:>6}{row['seconds']:>9.1f}{row['tokens']:>9.0f}"
            f"{row['tokens_per_s']:>10.0f}{row['peak_memory_mb']:>9.0f}  {row['device']}/{row['precision']}"
        )


if __name__ == "__main__":
    main()
