"""Loading run data: columns checked per method, bookkeeping columns dropped, a seeded eval split."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.engine.data import DatasetError, data_load
from training.engine.jsonl import jsonl_write
from training.engine.spec import spec_from_dict
from training.engine.testing.synthetic import synthetic_preferences


def _spec(method: str, train: Path, **extra: object):
    return spec_from_dict(
        {"method": method, "base_model": "m", "output_dir": "o", "train_file": str(train), **extra}
        | ({"reward_model": "r"} if method in ("ppo", "rloo") else {})
    )


def test_export_bookkeeping_columns_are_dropped(tmp_path: Path) -> None:
    rows = [
        {**row, "comparison_id": i, "metadata": {"tie": False}}
        for i, row in enumerate(synthetic_preferences(20))
    ]
    train = jsonl_write(rows, tmp_path / "train.jsonl")
    assert set(data_load(_spec("dpo", train)).train.column_names) == {"prompt", "chosen", "rejected"}
    assert data_load(_spec("ppo", train)).train.column_names == ["prompt"]


def test_eval_split_is_seeded(tmp_path: Path) -> None:
    train = jsonl_write(synthetic_preferences(40), tmp_path / "train.jsonl")
    first = data_load(_spec("reward", train, eval_fraction=0.25, seed=3))
    again = data_load(_spec("reward", train, eval_fraction=0.25, seed=3))
    other = data_load(_spec("reward", train, eval_fraction=0.25, seed=4))
    assert len(first.eval) == 10 and len(first.train) == 30
    assert first.eval["chosen"] == again.eval["chosen"] != other.eval["chosen"]


def test_parquet_is_read_and_missing_columns_are_named(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(synthetic_preferences(8)), path)
    assert len(data_load(_spec("reward", path, eval_fraction=0)).train) == 8
    with pytest.raises(DatasetError, match=r'sft needs rows with \{"messages"\}'):
        data_load(_spec("sft", path))
