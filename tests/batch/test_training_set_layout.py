"""How the training set is written: one file per day sorted by (trans_time, tid), and Parquet
dictionaries only on ``DICTIONARY_COLUMNS`` and counts (elsewhere parquet-mr builds one, finds it
too large and falls back: 10 CPU s of the 5.4 M-row write)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from fraudstream.batch.training_set import build_training_set

DICTIONARY = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


def test_one_sorted_file_per_day_and_dictionaries_only_where_chosen(spark, tmp_path: Path) -> None:
    rows = 600
    times = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(range(0, rows * 400, 400), unit="s")
    data = tmp_path / "tx.parquet"
    pd.DataFrame(
        {
            "tid": [f"t{i:04d}" for i in range(rows)][::-1],  # not in time order: the write sorts
            "cc_num": [f"400000000000000{i % 3}" for i in range(rows)],
            "amount": [10.0 if i % 2 else 20.0 for i in range(rows)],  # 2 values: a dictionary would pay
            "trans_time": times,
            "fraud_label": 0,
        }
    ).to_parquet(data, coerce_timestamps="ms", allow_truncated_timestamps=True)
    out = tmp_path / "training"
    summary = build_training_set(spark, str(data), str(out))
    days = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert days == ["dt=2020-01-01", "dt=2020-01-02", "dt=2020-01-03"]
    assert (summary["first_day"], summary["last_day"]) == ("2020-01-01", "2020-01-03")
    for day in days:
        files = list((out / day).glob("*.parquet"))
        assert len(files) == 1
        table = pq.read_table(files[0])
        keys = list(zip(table["trans_time"].to_pylist(), table["tid"].to_pylist(), strict=True))
        assert keys == sorted(keys)
        group = pq.ParquetFile(files[0]).metadata.row_group(0)
        encodings = {group.column(i).path_in_schema: set(group.column(i).encodings) for i in range(group.num_columns)}
        assert encodings["cc_num"] & DICTIONARY
        assert not encodings["amount"] & DICTIONARY  # chosen off, though it would have paid here
