"""The demo's batch stage runs the nightly load and the training set at the same time on one
SparkSession (``demo.pipeline._nightly_and_training``): both must come out as if run one after the other."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from rich.console import Console

from fraudstream.demo.pipeline import _nightly_and_training, read_stamp

from .helpers import random_transactions
from .test_nightly_load import expected_week, scan_batch_table


def test_nightly_and_training_set_together_equal_each_alone(spark, isolated_tables, tmp_path: Path) -> None:
    data = Path(random_transactions(tmp_path / "tx.parquet", cards=30, rows=2500))
    as_of = date(2020, 1, 20)
    details = _nightly_and_training(
        spark, data, tmp_path / "training", as_of, "fp-1", isolated_tables, Console(quiet=True), True, True
    )
    expected = expected_week(str(data), as_of)
    assert details == [f"nightly {as_of}: {len(expected)} cards", "training set: 2500 rows"]
    stored = scan_batch_table(isolated_tables)
    assert {card: int(item["num_trans_last_1w"]) for card, item in stored.items()} == {
        card: count for card, (count, _) in expected.items()
    }
    rows = pd.read_parquet(tmp_path / "training")
    assert sorted(rows["tid"]) == sorted(pd.read_parquet(data)["tid"])
    assert read_stamp(isolated_tables, "nightly") == {"data": "fp-1", "as_of": as_of.isoformat()}
    assert read_stamp(isolated_tables, "training-set") == {"data": "fp-1", "rows": 2500}
