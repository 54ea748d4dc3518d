"""training.engine.jsonl: reading records, writing rows, the counting writer and the tail of a growing
file (the supervisor's reader of metrics, samples and scores)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from training.engine.jsonl import JsonlTail, JsonlWriter, jsonl_write, records_read


class BadItems(ValueError):
    pass


def test_records_read_skips_blank_lines_and_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": 1, "text": "a"}\n\n{"id": 2, "text": "b"}\n')
    assert records_read(path, name="items_file", required=("id", "text"), error=BadItems) == [
        {"id": 1, "text": "a"},
        {"id": 2, "text": "b"},
    ]
    path.write_text('{"id": 1, "text": "a"}\n{"id": 2}\n')
    with pytest.raises(BadItems, match="^items_file line 2: needs id and text$"):
        records_read(path, name="items_file", required=("id", "text"), error=BadItems)
    path.write_text("[1]\n")
    with pytest.raises(BadItems, match="^items_file line 1: needs id$"):
        records_read(path, name="items_file", required=("id",), error=BadItems)
    path.write_text('{"id": 1}\n{"id": \n')
    with pytest.raises(BadItems, match="^items_file line 2: not JSON"):
        records_read(path, name="items_file", required=("id",), error=BadItems)
    with pytest.raises(BadItems, match="^cannot read items_file: "):
        records_read(tmp_path / "missing.jsonl", name="items_file", required=("id",), error=BadItems)


def test_jsonl_write_creates_the_folder_and_reads_back(tmp_path: Path) -> None:
    rows = [{"prompt": "Hi", "chosen": "Sure! Hello.", "rejected": "No."}, {"text": "é"}]
    path = jsonl_write(rows, tmp_path / "data" / "train.jsonl")
    assert path == tmp_path / "data" / "train.jsonl"
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows
    assert path.read_text(encoding="utf-8").endswith("\n")


def test_jsonl_writer_counts_rows_and_bytes_and_hashes_the_compact_utf8_lines(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    writer = JsonlWriter(path)
    writer.write({"prompt": "Ça va ?", "n": 1})
    writer.write({"prompt": "b", "tags": [1, 2]})
    summary = writer.close()
    data = path.read_bytes()
    assert data == '{"prompt":"Ça va ?","n":1}\n{"prompt":"b","tags":[1,2]}\n'.encode()
    assert summary == {"rows": 2, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert writer.handle.closed


def test_jsonl_writer_of_no_rows_writes_an_empty_file(tmp_path: Path) -> None:
    summary = JsonlWriter(tmp_path / "eval.jsonl").close()
    assert (tmp_path / "eval.jsonl").read_bytes() == b""
    assert summary == {"rows": 0, "bytes": 0, "sha256": hashlib.sha256(b"").hexdigest()}


def test_tail_reads_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = JsonlTail(path)
    assert tail.read() == [], "no file yet"
    path.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert tail.read() == [{"step": 1}, {"step": 2}]
    assert tail.read() == []
    with path.open("a") as handle:
        handle.write('ep": 3}\n')
    assert tail.read() == [{"step": 3}], "the half-written line is read once it is complete"


def test_tail_starts_over_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = JsonlTail(path)
    path.write_text('{"event": "start", "attempt": 1}\n{"step": 1}\n')
    assert len(tail.read()) == 2
    replacement = tmp_path / "new.jsonl"
    replacement.write_text('{"event": "start", "attempt": 2}\n')
    os.replace(replacement, path)
    assert tail.read() == [{"event": "start", "attempt": 2}]


def test_tail_skips_a_malformed_line_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "scores.jsonl"
    path.write_text('{"candidate_id": 1, "score": 0.5}\nnot json\n{"candidate_id": 2, "score": 0.1}\n')
    with caplog.at_level(logging.WARNING):
        records = JsonlTail(path).read()
    assert [r["candidate_id"] for r in records] == [1, 2]
    assert "malformed line" in caplog.text
