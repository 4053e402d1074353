"""10-minute and 1-week features on hand-built transactions whose values are known (real Spark)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fraudstream import features as F
from fraudstream.batch.io import InputError, read_transactions
from fraudstream.batch.stream_features import add_stream_features
from fraudstream.batch.weekly_features import (
    add_weekly_features,
    weekly_features,
    weekly_features_for_days,
)

from .helpers import MS, random_transactions, utc, write_transactions

pytestmark = pytest.mark.integration

A, B, C = "4000000000000001", "4000000000000002", "4000000000000003"
T0 = utc("2020-01-10 12:00:00")
TEN = timedelta(minutes=10)


@pytest.fixture(scope="module")
def stream_rows(spark, tmp_path_factory):
    path = write_transactions(
        tmp_path_factory.mktemp("stream") / "tx.parquet",
        [
            ("a1", A, T0, 10.00),
            ("a2", A, T0 + TEN, 20.00),  # exactly 10 min later: a1 is in its window
            ("a3", A, T0 + TEN + TEN + MS, 30.00),  # 10 min + 1 ms after a2: a2 is out
            ("a4", A, T0 + TEN + TEN + MS + TEN, 40.00),  # exactly 10 min after a3
            ("b1", B, T0 + TEN, 0.10),  # another card at the same instant as a2
            ("b2", B, T0 + TEN + MS, 0.20),
            ("c1", C, T0, 7.00),  # two rows at one instant are each other's peers
            ("c2", C, T0, 9.00),
        ],
    )
    rows = add_stream_features(read_transactions(spark, path)).collect()
    return {r["tid"]: r for r in rows}


@pytest.mark.parametrize(
    ("tid", "count", "avg", "max_"),
    [
        ("a1", 1, 10.0, 10.0),
        ("a2", 2, 15.0, 20.0),  # window edge, exactly 10 min: included
        ("a3", 1, 30.0, 30.0),  # 10 min + 1 ms: excluded
        ("a4", 2, 35.0, 40.0),
        ("b1", 1, 0.1, 0.1),  # windows are per card
        ("b2", 2, 0.15, 0.2),  # exact decimal sum: 0.15, not 0.15000000000000002
        ("c1", 2, 8.0, 9.0),
        ("c2", 2, 8.0, 9.0),
    ],
)
def test_ten_minute_window_values(stream_rows, tid, count, avg, max_) -> None:
    row = stream_rows[tid]
    assert row[F.NUM_TRANS_LAST_10M] == count
    assert row[F.AVG_AMT_LAST_10M] == avg  # exact equality on purpose: bit-identical by construction
    assert row[F.MAX_AMT_LAST_10M] == max_


def test_stream_features_keep_input_columns_and_types(stream_rows) -> None:
    row = stream_rows["a1"]
    assert set(row.asDict()) >= {"tid", "cc_num", "trans_time", "amount", "fraud_label", *F.STREAM_FEATURES}
    assert isinstance(row["amount"], float) and row["amount"] == 10.0


AS_OF = utc("2020-01-20 00:00:00")
WEEK = timedelta(days=7)


@pytest.fixture(scope="module")
def weekly_input(spark, tmp_path_factory):
    path = write_transactions(
        tmp_path_factory.mktemp("weekly") / "tx.parquet",
        [
            ("a0", A, AS_OF - WEEK - MS, 1000.00),  # just before the week: out
            ("a1", A, AS_OF - WEEK, 10.00),  # first instant of the week: in
            ("a2", A, AS_OF - MS, 20.05),  # last instant: in
            ("a3", A, AS_OF, 5000.00),  # as_of itself: out (belongs to the next run)
            ("b1", B, AS_OF - WEEK - MS, 3.00),  # only before the week: no item
            ("c1", C, AS_OF - timedelta(days=3), 0.10),
            ("c2", C, AS_OF - timedelta(days=2), 0.20),
        ],
    )
    return read_transactions(spark, path)


def test_nightly_window_edges(weekly_input) -> None:
    rows = {r["cc_num"]: r for r in weekly_features(weekly_input, AS_OF).collect()}
    assert set(rows) == {A, C}  # B had nothing in the week: no item
    assert rows[A][F.NUM_TRANS_LAST_1W] == 2
    assert rows[A][F.AVG_AMT_LAST_1W] == 15.025
    assert rows[C][F.NUM_TRANS_LAST_1W] == 2
    assert rows[C][F.AVG_AMT_LAST_1W] == 0.15


def test_backfill_runs_match_single_runs_at_the_edges(weekly_input) -> None:
    runs = weekly_features_for_days(weekly_input, AS_OF.date(), AS_OF.date() + timedelta(days=1)).collect()
    by_key = {(r["cc_num"], r["as_of"]): r for r in runs}
    assert (B, AS_OF.date()) not in by_key
    assert by_key[(A, AS_OF.date())][F.NUM_TRANS_LAST_1W] == 2
    next_day = by_key[(A, AS_OF.date() + timedelta(days=1))]  # a1 left, a3 entered
    assert (next_day[F.NUM_TRANS_LAST_1W], next_day[F.AVG_AMT_LAST_1W]) == (2, 2510.025)


@pytest.fixture(scope="module")
def random_tx(spark, tmp_path_factory):
    return read_transactions(spark, random_transactions(tmp_path_factory.mktemp("random") / "tx.parquet"))


def test_all_day_computations_equal_the_nightly_sql(random_tx) -> None:
    """The training-set and backfill shortcuts give, to the bit, what batch_aggregate_sql gives."""
    from pyspark.sql import functions as f

    days = [utc("2020-01-02 00:00:00"), utc("2020-01-08 00:00:00"), utc("2020-01-15 00:00:00")]
    per_row = add_weekly_features(random_tx).withColumn("dt", f.to_date("trans_time"))
    for_days = weekly_features_for_days(random_tx, days[0].date(), days[-1].date())
    for day in days:
        nightly = {
            r["cc_num"]: (r[F.NUM_TRANS_LAST_1W], r[F.AVG_AMT_LAST_1W])
            for r in weekly_features(random_tx, day).collect()
        }
        assert nightly, "the random data must make every checked night non-empty"
        backfill = {
            r["cc_num"]: (r[F.NUM_TRANS_LAST_1W], r[F.AVG_AMT_LAST_1W])
            for r in for_days.where(f.col("as_of") == f.lit(day.date())).collect()
        }
        assert backfill == nightly
        active = per_row.where(f.col("dt") == f.lit(day.date())).collect()
        assert active
        for r in active:
            expected = nightly.get(r["cc_num"], (None, None))
            assert (r[F.NUM_TRANS_LAST_1W], r[F.AVG_AMT_LAST_1W]) == expected


def test_missing_columns_are_a_clear_error(spark, tmp_path) -> None:
    import pandas as pd

    path = tmp_path / "bad.parquet"
    pd.DataFrame({"tid": ["x"], "amount": [1.0]}).to_parquet(path)
    with pytest.raises(InputError, match="cc_num"):
        read_transactions(spark, str(path))
    with pytest.raises(InputError, match="cannot read"):
        read_transactions(spark, str(tmp_path / "nowhere.parquet"))
