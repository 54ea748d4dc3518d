"""Generation throughput of the engine's local backend: samples/s and new tokens/s per batch size.

    .venv/bin/python bench/generation_throughput.py                  # tiny local model, CPU or GPU
    .venv/bin/python bench/generation_throughput.py --model PATH --prompts 64 --k 4 --batches 1 8 32

Runs `generate_run` in-process on synthetic chat prompts (model loading left out of the timing), with
sampling at temperature 1 and `--max-new-tokens` new tokens per sample (EOS may end a sample early).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.engine.generate import LocalBackend, generate_spec_parse  # noqa: E402
from training.engine.items import batches  # noqa: E402
from training.engine.testing.tiny import build_tiny_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_tiny_model(Path(tmp) / "tiny"))
        prompts = [
            {"prompt_id": i, "messages": [{"role": "user", "content": f"Question {i}: explain item {i}."}]}
            for i in range(args.prompts)
        ]
        prompts_file = Path(tmp) / "prompts.jsonl"
        prompts_file.write_text("".join(json.dumps(p) + "\n" for p in prompts))
        base = {"model": model, "prompts_file": str(prompts_file), "output_file": str(Path(tmp) / "o.jsonl")}
        print(f"model {model}, {args.prompts} prompts, k={args.k}, max_new_tokens={args.max_new_tokens}")
        print(f"{'batch':>6} {'seconds':>8} {'samples/s':>10} {'tokens/s':>10}")
        backend = None
        for batch_size in args.batches:
            spec = generate_spec_parse(
                {**base, "k": args.k, "max_new_tokens": args.max_new_tokens, "batch_size": batch_size}
            )
            backend = backend or LocalBackend(spec)
            backend.spec = spec
            backend.generate(prompts[:1])  # warm-up
            start = time.perf_counter()
            texts = [t for batch in batches(prompts, batch_size) for r in backend.generate(batch) for t in r]
            seconds = time.perf_counter() - start
            tokens = sum(len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
            print(f"{batch_size:>6} {seconds:>8.2f} {len(texts) / seconds:>10.1f} {tokens / seconds:>10.1f}")


if __name__ == "__main__":
    main()
