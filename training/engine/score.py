"""`python -m training.engine score SPEC.json`: a reward model's score of each completion of a conversation.

The spec names the reward model ("model": a reward run's final/, or any HF sequence classifier with one
output), a JSONL file of {"candidate_id", "messages", "completion"} items, the output file, the batch size
and the maximum length in tokens. Each item is formatted as the reward trainer formats conversational rows:
the tokenizer's chat template over the messages followed by the completion as an assistant turn (without a
chat template: the turns' contents joined by blank lines, then the completion and EOS, as TRL does for
standard text). An item longer than max_length loses its first tokens, since the score head reads the last
one, and its line says "truncated". Items are scored in batches of similar length, so the output order is
not the input's: one line {"candidate_id", "score"} per item, or {"candidate_id", "error"} for an item that
cannot be scored (the others go on), written batch by batch for the supervisor to tail.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from training.engine.items import batches, error_text, messages_check
from training.engine.jsonl import records_read
from training.engine.schema import (
    PATH_REQUIRED,
    RequiredPath,
    command_spec_message,
    errors_read,
    integer_between,
)


class ScoreSpecError(ValueError):
    """The scoring spec or its items file is not usable."""


class ScoreSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: RequiredPath
    items_file: RequiredPath
    output_file: RequiredPath
    batch_size: integer_between(1, 4096) = 16
    max_length: integer_between(8, 1_000_000) = 1024


def score_spec_parse(raw: Any) -> ScoreSpec:
    """Validates a spec dict (types, ranges, no unknown fields); raises ScoreSpecError naming the field."""
    if not isinstance(raw, dict):
        raise ScoreSpecError("the spec must be a JSON object")
    try:
        return ScoreSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScoreSpecError(command_spec_message(errors_read(exc, missing=PATH_REQUIRED))) from None


def items_read(path: str | Path) -> list[dict[str, Any]]:
    """The items file's records; raises ScoreSpecError naming the first line that is not an item."""
    return records_read(
        path, name="items_file", required=("candidate_id", "messages", "completion"), error=ScoreSpecError
    )


def _item_check(record: dict[str, Any]) -> None:
    messages_check(record["messages"])
    if not isinstance(record["completion"], str):
        raise ValueError("completion must be a string")


def item_ids(tokenizer: Any, messages: list[dict[str, Any]], completion: str) -> list[int]:
    """Token ids of one conversation and completion, formatted as the reward trainer formats its rows."""
    if tokenizer.chat_template:
        conversation = [*messages, {"role": "assistant", "content": completion}]
        ids = tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
        return list(ids)
    text = "\n\n".join(m["content"] for m in messages) + "\n\n" + completion + (tokenizer.eos_token or "")
    return tokenizer(text)["input_ids"]


class Scorer:
    """A sequence classifier with one output and its tokenizer, scoring right-padded batches."""

    def __init__(self, spec: ScoreSpec) -> None:
        import torch

        from training.engine.loading import reward_model_load

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" and torch.cuda.is_bf16_supported() else None
        model, self.tokenizer = reward_model_load(spec.model, dtype=dtype)
        self.tokenizer.padding_side = "right"  # as the reward trainer's collator pads
        self.model = model.to(self.device).eval()

    def scores(self, id_lists: list[list[int]]) -> list[float]:
        torch = self.torch
        padded = self.tokenizer.pad({"input_ids": id_lists}, return_tensors="pt").to(self.device)
        with torch.no_grad():
            logits = self.model(**padded).logits
        return [float(value) for value in logits[:, 0].float().cpu()]


def score_run(
    spec: ScoreSpec, *, scorer: Scorer | None = None, records: list[dict[str, Any]] | None = None
) -> dict[str, int]:
    """Scores every item, writing lines to output_file as batches finish; returns counts of items, scores
    and errors. Raises ScoreSpecError for an unreadable items file. `scorer` reuses a loaded model and
    `records` items already read."""
    records = items_read(spec.items_file) if records is None else records
    scorer = scorer or Scorer(spec)
    counts = {"items": len(records), "scored": 0, "errors": 0}
    output = Path(spec.output_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    encoded: list[tuple[Any, list[int], bool]] = []
    with output.open("w", encoding="utf-8") as out:
        for record in records:
            try:
                _item_check(record)
                ids = item_ids(scorer.tokenizer, record["messages"], record["completion"])
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
                _write(out, {"candidate_id": record["candidate_id"], "error": error_text(exc)}, counts)
                continue
            truncated = len(ids) > spec.max_length
            encoded.append((record["candidate_id"], ids[-spec.max_length :], truncated))
        out.flush()
        # Similar lengths together: less padding, and the longest batches (most likely to run out of
        # memory) come last, after everything else is written.
        encoded.sort(key=lambda item: len(item[1]))
        for batch in batches(encoded, spec.batch_size):
            for (candidate_id, _, truncated), result in zip(batch, _batch_scores(scorer, batch), strict=True):
                if isinstance(result, Exception):
                    line = {"candidate_id": candidate_id, "error": error_text(result)}
                else:
                    line = {
                        "candidate_id": candidate_id,
                        "score": result,
                        **({"truncated": True} if truncated else {}),
                    }
                _write(out, line, counts)
            out.flush()
    return counts


def _batch_scores(scorer: Scorer, batch: list[tuple[Any, list[int], bool]]) -> list[float | Exception]:
    try:
        return list(scorer.scores([ids for _, ids, _ in batch]))
    except Exception:  # noqa: BLE001 - the batch failed (memory, a bad token): score alone to find it
        results: list[float | Exception] = []
        for _, ids, _ in batch:
            try:
                results.append(scorer.scores([ids])[0])
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results


def _write(out: TextIO, line: dict[str, Any], counts: dict[str, int]) -> None:
    counts["errors" if "error" in line else "scored"] += 1
    out.write(json.dumps(line) + "\n")


def score_main(spec_path: str) -> int:
    """CLI entry: 0 done (some items may have error lines), 2 invalid spec or items file, 1 the model could
    not be loaded."""
    try:
        spec = score_spec_parse(json.loads(Path(spec_path).read_text(encoding="utf-8")))
        records = items_read(spec.items_file)
    except (OSError, json.JSONDecodeError, ScoreSpecError) as exc:
        print(f"invalid spec: {exc}", file=sys.stderr)
        return 2
    try:
        scorer = Scorer(spec)
    except Exception as exc:  # noqa: BLE001 - any loading failure: say which and exit 1
        print(f"cannot load the reward model {spec.model!r}: {error_text(exc)}", file=sys.stderr)
        return 1
    counts = score_run(spec, scorer=scorer, records=records)
    print(json.dumps({"event": "end", **counts, "spec": spec.model_dump()}))
    return 0
