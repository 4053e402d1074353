"""Parity: one generated day of traffic through the Flink job and through the Spark window gives
identical ``num_trans_last_10m``, ``avg_amt_last_10m`` and ``max_amt_last_10m`` for every tid.

Spark runs the SELECT of ``features.stream_aggregate_select_sql``; Flink runs the ``card_window``
function with the window length of the same module. Equality is exact (==), not approximate: sums
are exact decimals in both, and the mean is one conversion and one division.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from fraudstream import features
from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.testkit import Tx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = datetime(2020, 1, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def day_rows(small_transactions: pd.DataFrame) -> pd.DataFrame:
    """One day of the generated traffic (with its attack chains), sorted by time."""
    times = pd.to_datetime(small_transactions["trans_time"], utc=True)
    mask = (times >= pd.Timestamp(DAY)) & (times < pd.Timestamp(DAY + timedelta(days=1)))
    day = small_transactions.loc[mask, ["tid", "cc_num", "amount", "trans_time"]].copy()
    day["trans_time"] = times[mask]
    day = day.sort_values(["trans_time", "tid"]).reset_index(drop=True)
    assert len(day) > 1000
    return day


def as_tx(day: pd.DataFrame) -> list[Tx]:
    return [
        Tx(str(r.tid), str(r.cc_num), float(r.amount), r.trans_time.to_pydatetime())
        for r in day.itertuples(index=False)
    ]


@pytest.fixture(scope="module")
def flink_features(
    day_rows: pd.DataFrame, settings: Settings, kafka_bootstrap: str, flink_rest: str
) -> dict[str, tuple[Any, ...]]:
    run = testkit.job_settings(settings, "parity", flink_checkpoint_interval_ms=2_000, partitions=4)
    rows = as_tx(day_rows)
    with testkit.running_job(run):
        testkit.produce(run, rows)  # right after submit, in one burst: per-card semantics need no priming
        records = testkit.consume(run, run.topic_agg, testkit.has_tids(r.tid for r in rows), timeout=240)
        dead = testkit.consume(run, run.topic_dead_letter, lambda recs: True, timeout=5)
    assert dead == [], f"{len(dead)} rows went to dead-letter, e.g. {dead[:1]}"
    by_tid = testkit.by_tid(records)
    return {tid: tuple(by_tid[tid][0][name] for name in features.STREAM_FEATURES) for tid in day_rows["tid"]}


@pytest.fixture(scope="module")
def spark_features(day_rows: pd.DataFrame, spark: Any) -> dict[str, tuple[Any, ...]]:
    from fraudstream.batch.stream_features import add_stream_features

    pdf = day_rows.copy()
    pdf["trans_time"] = pdf["trans_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    out = add_stream_features(spark.createDataFrame(pdf)).select("tid", *features.STREAM_FEATURES).collect()
    return {row["tid"]: tuple(row[name] for name in features.STREAM_FEATURES) for row in out}


def test_flink_and_spark_agree_exactly_on_every_tid(flink_features, spark_features):
    assert set(flink_features) == set(spark_features)
    mismatches = {tid: (f, spark_features[tid]) for tid, f in flink_features.items() if f != spark_features[tid]}
    assert not mismatches, f"{len(mismatches)} tids differ, e.g. {list(mismatches.items())[:3]}"


def test_both_engines_agree_with_the_reference_definition(day_rows, flink_features):
    expected = testkit.reference_features(as_tx(day_rows))
    assert {tid: flink_features[tid] for tid in expected} == expected


def test_the_day_has_dense_windows(flink_features):
    """The slice exercises the window: some cards have several transactions within 10 minutes."""
    assert max(v[0] for v in flink_features.values()) >= 3
