"""`python -m training.engine score`: a reward run's final/ scores conversations as the reward trainer
formatted them, a bad item gives one error line and the others go on, exit codes as for generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.training.engine.conftest import engine, reward_score, spec_write
from training.engine.score import ScoreSpecError, items_read, score_spec_parse
from training.engine.testing.synthetic import synthetic_preferences


def items_write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def lines_read(path: Path) -> dict[Any, dict[str, Any]]:
    return {line["candidate_id"]: line for line in map(json.loads, path.read_text().splitlines())}


@pytest.mark.training
def test_reward_model_scores_each_item_as_trained_and_reports_bad_ones(
    reward_run: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    held_out = synthetic_preferences(30, seed=99)
    items = []
    for i, row in enumerate(held_out):
        messages = [{"role": "user", "content": row["prompt"]}]
        items.append({"candidate_id": f"c{i}", "messages": messages, "completion": row["chosen"]})
        items.append({"candidate_id": f"r{i}", "messages": messages, "completion": row["rejected"]})
    items.append({"candidate_id": "bad", "messages": [{"role": "user"}], "completion": "Sure!"})
    items.append(
        {"candidate_id": "long", "messages": [{"role": "user", "content": "word " * 400}], "completion": "x"}
    )
    spec = {
        "model": str(reward_run / "final"),
        "items_file": str(items_write(tmp_path / "items.jsonl", items)),
        "output_file": str(tmp_path / "scores.jsonl"),
        "batch_size": 7,
        "max_length": 128,
    }
    done = engine("score", str(spec_write(tmp_path / "spec.json", spec)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["errors"] == 1
    lines = lines_read(tmp_path / "scores.jsonl")
    assert len(lines) == len(items)
    assert "content" in lines["bad"]["error"]
    assert lines["long"]["truncated"] is True and isinstance(lines["long"]["score"], float)

    wins = [lines[f"c{i}"]["score"] > lines[f"r{i}"]["score"] for i in range(len(held_out))]
    assert sum(wins) / len(wins) >= 0.9
    # Batched, right-padded scoring gives the score of the item alone, formatted by the chat template.
    model = AutoModelForSequenceClassification.from_pretrained(reward_run / "final").eval()
    tokenizer = AutoTokenizer.from_pretrained(reward_run / "final")
    for i in (0, 13):
        alone = reward_score(model, tokenizer, held_out[i]["prompt"], held_out[i]["chosen"])
        assert lines[f"c{i}"]["score"] == pytest.approx(alone, abs=1e-4)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"model": ""}, "model is required"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"max_length": "long"}, "max_length must be"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_invalid_specs_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScoreSpecError, match=message):
        score_spec_parse({"model": "m", "items_file": "i.jsonl", "output_file": "o.jsonl", **change})


def test_items_file_lines_must_be_items(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"candidate_id": 1, "messages": [], "completion": ""}\n{"candidate_id": 2}\n')
    with pytest.raises(ScoreSpecError, match="line 2: needs candidate_id, messages and completion"):
        items_read(path)


def test_cli_exit_codes(tmp_path: Path) -> None:
    bad = engine("score", str(spec_write(tmp_path / "spec.json", {"model": "m"})))
    assert bad.returncode == 2 and "invalid spec" in bad.stderr
    items = items_write(tmp_path / "items.jsonl", [{"candidate_id": 1, "messages": [], "completion": ""}])
    spec = {"model": str(tmp_path / "missing"), "items_file": str(items), "output_file": str(tmp_path / "o")}
    missing = engine("score", str(spec_write(tmp_path / "spec.json", spec)))
    assert missing.returncode == 1 and "cannot load the reward model" in missing.stderr
