"""The point-in-time training set: known values, 1-week features as served, idempotent writes."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.batch.scope import DERIVED_INPUT_COLUMNS
from fraudstream.batch.training_set import build_training_set

from .helpers import random_transactions, utc, write_transactions

pytestmark = pytest.mark.integration

P, N = "4000000000000010", "4000000000000011"
DAY = utc("2020-01-20 00:00:00")


@pytest.fixture(scope="module")
def pit_run(spark, tmp_path_factory):
    """Card P: history 3 days before DAY, then two rows on DAY; card N: first ever row on DAY."""
    base = tmp_path_factory.mktemp("pit")
    path = write_transactions(
        base / "tx.parquet",
        [
            ("p0", P, DAY - timedelta(days=3), 100.00),
            ("p1", P, DAY + timedelta(hours=8), 10.00),
            ("p2", P, DAY + timedelta(hours=9), 1000.00),  # a window ending here would see p1 too
            ("p3", P, DAY + timedelta(hours=9, minutes=5), 50.00),
            ("n1", N, DAY + timedelta(hours=9), 42.00),
        ],
        label_tids={"p2", "p3"},
    )
    out = base / "training"
    summary = build_training_set(spark, path, str(out))
    frame = pd.read_parquet(out)
    return summary, frame.set_index("tid"), out


def test_one_week_features_are_those_of_the_days_nightly_run(pit_run) -> None:
    _, rows, _ = pit_run
    # as served: the nightly run of DAY covers [DAY - 7 d, DAY): only p0. A window ending at p2
    # would give (2, 55.0) — using a transaction of the row's own day.
    for tid in ("p1", "p2", "p3"):
        assert (rows.loc[tid, F.NUM_TRANS_LAST_1W], rows.loc[tid, F.AVG_AMT_LAST_1W]) == (1, 100.0)
    assert pd.isna(rows.loc["p0", F.NUM_TRANS_LAST_1W])  # P's first row: no history yet
    assert pd.isna(rows.loc["n1", F.NUM_TRANS_LAST_1W]) and pd.isna(rows.loc["n1", F.AVG_AMT_LAST_1W])


def test_ten_minute_features_and_model_inputs_match_the_scorer(pit_run) -> None:
    _, rows, _ = pit_run
    p3 = rows.loc["p3"]
    assert (p3[F.NUM_TRANS_LAST_10M], p3[F.AVG_AMT_LAST_10M], p3[F.MAX_AMT_LAST_10M]) == (2, 525.0, 1000.0)
    assert p3[F.AMT_RATIO1] == 5.25 and p3[F.AMT_RATIO2] == 0.5 and p3[F.COUNT_RATIO] == 2.0
    assert p3[F.MAX_AMT_RATIO] == 10.0
    for tid, row in rows.iterrows():
        for feature_set in F.FEATURE_SETS:
            served = F.model_input_row(
                row["amount"],
                row[F.NUM_TRANS_LAST_10M],
                row[F.AVG_AMT_LAST_10M],
                None if pd.isna(row[F.NUM_TRANS_LAST_1W]) else row[F.NUM_TRANS_LAST_1W],
                None if pd.isna(row[F.AVG_AMT_LAST_1W]) else row[F.AVG_AMT_LAST_1W],
                row[F.MAX_AMT_LAST_10M],
                feature_set=feature_set,
                nightly={n: None if pd.isna(row[n]) else row[n] for n in F.NIGHTLY_INPUTS},
            )
            trained = [row[name] for name in F.model_input_names(feature_set)]
            for s, t in zip(served, trained, strict=True):
                assert (s is None and pd.isna(t)) or s == t, (tid, feature_set, served, trained)


def test_layout_labels_and_summary(pit_run) -> None:
    summary, rows, out = pit_run
    assert sorted(p.name for p in out.glob("dt=*")) == ["dt=2020-01-17", "dt=2020-01-20"]
    assert rows.loc["p2", "fraud_label"] == 1 and rows.loc["p1", "fraud_label"] == 0
    assert pd.isna(rows.loc["n1", F.AMT_RATIO1])  # missing stays missing (NULL), never 0 or inf
    on_disk = json.loads((out / "_summary.json").read_text())
    assert on_disk["rows_out"] == summary["rows_out"] == 5
    assert (summary["rows_in"], summary["cards"], summary["fraud_rows"], summary["days"]) == (5, 2, 2, 2)
    assert summary["rows_without_1w_history"] == 2


@pytest.fixture(scope="module")
def random_path(tmp_path_factory):
    return random_transactions(tmp_path_factory.mktemp("ts-random") / "tx.parquet")


def test_point_in_time_on_random_data_and_idempotent_rerun(spark, random_path, tmp_path) -> None:
    out = tmp_path / "training"
    first = build_training_set(spark, random_path, str(out), "2020-01-09", "2020-01-12")
    before = pd.read_parquet(out).sort_values("tid").reset_index(drop=True)
    second = build_training_set(spark, random_path, str(out), "2020-01-09", "2020-01-12")
    after = pd.read_parquet(out).sort_values("tid").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)  # same values, no duplicates
    assert first["rows_out"] == second["rows_out"] == len(after) == after["tid"].nunique()
    assert sorted(after["dt"].astype(str).unique()) == ["2020-01-09", "2020-01-10", "2020-01-11", "2020-01-12"]

    # brute force from the raw file: the 1-week values use only the 7 days before the row's day
    raw = pd.read_parquet(random_path)
    raw["day"] = raw["trans_time"].dt.floor("D")
    assert str(after["trans_time"].dt.tz) == "UTC"  # Parquet timestamps are UTC-adjusted
    sample = after.sample(200, random_state=1)
    for _, row in sample.iterrows():
        day = row["trans_time"].floor("D")
        week = raw[(raw.cc_num == row.cc_num) & (raw.trans_time >= day - timedelta(days=7)) & (raw.trans_time < day)]
        if week.empty:
            assert pd.isna(row[F.NUM_TRANS_LAST_1W])
            continue
        assert row[F.NUM_TRANS_LAST_1W] == len(week)
        assert math.isclose(row[F.AVG_AMT_LAST_1W], week.amount.sum() / len(week), rel_tol=1e-12)
    assert set(DERIVED_INPUT_COLUMNS) <= set(after.columns)


def test_native_model_inputs_equal_compute_model_inputs(spark, random_path) -> None:
    """The Spark ratios (batch.model_inputs) equal the pandas path through compute_model_inputs, bit for bit."""
    from fraudstream.batch.io import read_transactions
    from fraudstream.batch.training_set import training_frame

    tx = read_transactions(spark, random_path)
    native = training_frame(tx).toPandas().sort_values("tid").reset_index(drop=True)
    reference = training_frame(tx, native_inputs=False).toPandas().sort_values("tid").reset_index(drop=True)
    assert native[list(DERIVED_INPUT_COLUMNS)].isna().any().all()  # missing ratios are exercised
    pd.testing.assert_frame_equal(native, reference, check_exact=True)
