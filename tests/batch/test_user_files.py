"""A user's own transactions file as pandas writes it: nanosecond Parquet timestamps (Spark refuses them
by default with PARQUET_TYPE_ILLEGAL) are read, to the microsecond, naive as UTC and tz-aware as given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fraudstream.batch.io import read_transactions


def test_pandas_nanosecond_parquet_is_read_exactly(spark, tmp_path: Path) -> None:
    rows = 500
    rng = np.random.default_rng(7)
    offsets_ns = np.sort(rng.integers(0, 20 * 86_400 * 10**9, rows))  # sub-microsecond parts included
    naive = pd.Timestamp("2024-03-01") + pd.to_timedelta(offsets_ns, unit="ns")
    frame = pd.DataFrame(
        {
            "tid": [f"u{i:04d}" for i in range(rows)],
            "cc_num": [f"4{i % 40:015d}" for i in range(rows)],
            "amount": rng.uniform(1, 300, rows).round(2),
            "trans_time": naive,
            "labelled_at": (naive + pd.Timedelta(days=9)).tz_localize("Europe/Paris"),  # tz-aware
            "fraud_label": (rng.uniform(size=rows) < 0.05).astype(int),
        }
    )
    path = tmp_path / "user.parquet"
    frame.to_parquet(path)  # pandas' defaults: TIMESTAMP(NANOS)
    assert "ns" in str(pq.read_schema(path).field("trans_time").type)

    got = read_transactions(spark, str(path)).toPandas().set_index("tid").loc[frame["tid"]]
    want_tx = frame["trans_time"].dt.floor("us").dt.tz_localize("UTC")
    want_label = frame["labelled_at"].dt.tz_convert("UTC").dt.floor("us")
    assert (pd.to_datetime(got["trans_time"], utc=True).to_numpy() == want_tx.to_numpy()).all()
    assert (pd.to_datetime(got["labelled_at"], utc=True).to_numpy() == want_label.to_numpy()).all()
    assert got["fraud_label"].tolist() == frame["fraud_label"].tolist()
