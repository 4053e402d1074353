"""The shared ``small_transactions_path`` fixture holds what other parts' tests rely on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fraudstream.testing.data import SMALL_DATA


def test_small_file_has_enough_fraud_to_train_on(
    small_transactions_path: Path, small_transactions: pd.DataFrame
) -> None:
    assert small_transactions_path.suffix == ".parquet"
    df = small_transactions
    assert len(df) == SMALL_DATA["transactions"]
    assert df["cc_num"].nunique() == SMALL_DATA["cards"]
    assert df["attack_id"].nunique() >= 100
    assert df["trans_time"].min() >= pd.Timestamp("2020-01-01", tz="UTC")
    assert df["trans_time"].max() < pd.Timestamp("2020-02-15", tz="UTC")
