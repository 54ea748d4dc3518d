"""`python -m training.engine run|validate|defaults|generate|score`: exit 0 ok, 2 invalid spec, 1 failure."""

from __future__ import annotations

import argparse
import json
import sys

from training.engine.spec import METHODS, SpecError, method_defaults, spec_load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train the job described by SPEC.json")
    run.add_argument("spec")
    run.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint in output_dir"
    )
    validate = commands.add_parser("validate", help="print the normalised spec (defaults filled in) as JSON")
    validate.add_argument("spec")
    defaults = commands.add_parser("defaults", help="print the default hyperparameters of METHOD as JSON")
    defaults.add_argument("method", choices=METHODS)
    defaults.add_argument("--full", action="store_true", help="defaults for full fine-tuning (LoRA off)")
    generate = commands.add_parser("generate", help="sample k completions per prompt (see generate.py)")
    generate.add_argument("spec")
    score = commands.add_parser("score", help="score completions with a reward model (see score.py)")
    score.add_argument("spec")
    args = parser.parse_args(argv)

    if args.command == "generate":
        from training.engine.generate import generate_main

        return generate_main(args.spec)
    if args.command == "score":
        from training.engine.score import score_main

        return score_main(args.spec)

    if args.command == "defaults":
        print(json.dumps(method_defaults(args.method, lora_enabled=not args.full), indent=2))
        return 0
    try:
        spec = spec_load(args.spec)
        if args.command == "validate":
            print(json.dumps(spec.to_dict(), indent=2))
            return 0
        from training.engine.runner import run as run_job

        return run_job(spec, resume=args.resume)
    except SpecError as exc:
        print(f"invalid spec: {exc}", file=sys.stderr)
        return 2
