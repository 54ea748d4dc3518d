"""Data-parallel runs in several processes: `accelerate launch` with the DDP config
(training/engine/accelerate/multi_gpu.yaml) and 2 processes, here on CPU over gloo as on a GPU node over
NCCL. Both processes train; only the main one writes metrics, the card, result.json and final/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.training.engine.conftest import ROOT, metrics_read, reward_score, spec_write
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_preferences

PROCESSES = 2
BATCH = 4  # per process


def accelerate_launch(spec: Path, *, timeout: int = 300) -> subprocess.CompletedProcess:
    """`accelerate launch --config_file multi_gpu.yaml --num_processes 2 -m training.engine run SPEC`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(ROOT / "training" / "engine" / "accelerate" / "multi_gpu.yaml"),
            "--num_processes",
            str(PROCESSES),
            # Its own port, so runs of other test sessions on the machine cannot collide.
            "--main_process_port",
            str(free_port()),
            "-m",
            "training.engine",
            "run",
            str(spec),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _lora_adapter_base(tiny_model: Path, path: Path) -> Path:
    """An untrained LoRA adapter on the tiny model, saved as an SFT run's final/ would be."""
    from peft import LoraConfig, get_peft_model

    from training.engine.loading import model_load_causal_lm, tokenizer_load

    model = get_peft_model(model_load_causal_lm(tiny_model), LoraConfig(r=2, target_modules=["q_proj"]))
    model.save_pretrained(path)
    tokenizer_load(tiny_model).save_pretrained(path)
    return path


def _spec(method: str, base: Path, train: Path, out: Path, **extra: Any) -> dict:
    hp = {
        "max_steps": 3,
        "learning_rate": 2e-3,
        "per_device_train_batch_size": BATCH,
        "logging_steps": 1,
        "eval_steps": 3,
        "save_steps": 2,
    }
    if method == "ppo":
        hp.update(max_steps=2, response_length=8, num_ppo_epochs=1)
    return {
        "method": method,
        "base_model": str(base),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0 if method == "ppo" else 0.25,
        "hyperparameters": hp,
        **extra,
    }


@pytest.mark.training
@pytest.mark.parametrize("method", ["dpo", "reward", "ppo"])
def test_two_processes_train_and_only_the_main_one_writes_the_outputs(
    method: str, tiny_model: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    train = jsonl_write(synthetic_preferences(64, seed=1, conversational=True), tmp_path / "prefs.jsonl")
    out = tmp_path / "run"
    extra: dict[str, Any] = {}
    base = tiny_model
    if method == "dpo":
        extra["sample_prompts"] = ["What is 2 plus 3?"]
    if method == "reward":
        # An adapter base is merged into output_dir/base-merged by the main process while the other waits.
        base = _lora_adapter_base(tiny_model, tmp_path / "sft-final")
    if method == "ppo":
        extra["reward_model"] = str(request.getfixturevalue("reward_run") / "final")
    spec = _spec(method, base, train, out, **extra)
    result = accelerate_launch(spec_write(tmp_path / "spec.json", spec))
    assert result.returncode == 0, result.stderr[-4000:]

    lines = metrics_read(out)  # every line parses: no interleaved writes
    assert [line.get("event") for line in lines if "event" in line] == ["start", "end"]
    assert lines[-1]["status"] == "succeeded"
    steps = spec["hyperparameters"]["max_steps"]
    train_lines = [line for line in lines if "loss" in line]
    assert [line["step"] for line in train_lines] == list(range(1, steps + 1))
    eval_steps = [line["step"] for line in lines if "eval_loss" in line]
    assert eval_steps == ([] if method == "ppo" else [0, 3])

    log = (out / "engine.log").read_text()
    assert log.count(f"run {method} on cpu/fp32") == 1
    assert (out / "engine.rank1.log").read_text().count(f"run {method} on cpu/fp32") == 1
    # multi_gpu.yaml asks for bf16; on CPU the engine's fp32 wins, so result.json tells the truth.
    assert "the launcher asked for mixed precision bf16; the run uses fp32" in log
    rows = int(re.search(r"data: (\d+) train rows", log).group(1))
    # Each step took a batch from each process: the data-parallel part.
    assert train_lines[-1]["epoch"] == pytest.approx(steps * BATCH * PROCESSES / rows)
    outcome = json.loads((out / "result.json").read_text())
    assert outcome["status"] == "succeeded" and outcome["precision"] == "fp32"
    assert "succeeded" in (out / "model_card.md").read_text()

    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load

    if method == "reward":
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(out / "final").eval()
        score = reward_score(model, tokenizer_load(out / "final"), "What is 2 plus 3?", "Sure! 5.")
        assert isinstance(score, float)
        assert (out / "base-merged" / "config.json").is_file()
        return
    policy = model_load_causal_lm(out / "final")
    assert generate(policy, tokenizer_load(out / "final"), ["What is 2 plus 3?"], max_new_tokens=4)
    if method == "dpo":
        assert outcome["samples"][0]["after"]
