"""The shipped demo: its data file is valid and varied, and loading it builds the demo projects once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEMO_FILE = Path(__file__).resolve().parents[2] / "annotation" / "demo" / "demo.jsonl"
ROLES = {"system", "user", "assistant"}


@pytest.fixture(scope="module")
def demo_lines() -> list[dict]:
    return [json.loads(line) for line in DEMO_FILE.read_text(encoding="utf-8").splitlines()]


def _messages(line: dict) -> list[dict]:
    prompt = line["prompt"]
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt


def test_every_demo_line_is_a_valid_native_line(demo_lines: list[dict]) -> None:
    ids = [line["id"] for line in demo_lines]
    assert len(ids) == len(set(ids))
    for line in demo_lines:
        assert set(line) == {"id", "prompt", "candidates", "metadata"}, line["id"]
        messages = _messages(line)
        assert messages[-1]["role"] == "user", line["id"]
        assert all(m["role"] in ROLES and m["content"].strip() for m in messages), line["id"]
        assert all(m["role"] != "system" for m in messages[1:]), line["id"]
        candidates = line["candidates"]
        assert 2 <= len(candidates) <= 4, line["id"]
        texts = [c["text"] for c in candidates]
        assert all(t.strip() == t and t for t in texts), line["id"]
        assert len(set(texts)) == len(texts), line["id"]
        models = [c["model"] for c in candidates]
        assert len(set(models)) == len(models), line["id"]
        # Best first: the recorded quality order is the file order.
        assert line["metadata"]["quality_order"] == models, line["id"]


def test_demo_is_large_and_varied_enough(demo_lines: list[dict]) -> None:
    assert len(demo_lines) >= 48
    assert sum(len(line["candidates"]) >= 3 for line in demo_lines) >= 28
    categories = {line["metadata"]["category"] for line in demo_lines}
    assert {"coding", "math", "advice", "writing", "science", "chat", "tables"} <= categories

    multi_turn = [line for line in demo_lines if len(_messages(line)) > 1]
    assert len(multi_turn) >= 4
    assert sum(_messages(line)[0]["role"] == "system" for line in multi_turn) >= 3

    def with_table(line: dict) -> bool:
        text = json.dumps(line, ensure_ascii=False)
        return "| --- |" in text or "| ---: |" in text

    def with_code(line: dict) -> bool:
        return any("```" in c["text"] for c in line["candidates"])

    assert sum(with_table(line) for line in demo_lines) >= 4
    assert sum(with_code(line) for line in demo_lines) >= 8
