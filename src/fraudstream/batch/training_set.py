"""The point-in-time training set: one row per transaction, features exactly as served.

Per transaction: the 10-minute features from the shared OVER window (current row included, as
Flink computes them for ``cc-agg``), the 1-week features the online store held when it happened
(the nightly run of its UTC midnight, i.e. over the 7 days *before* that day) and the model inputs
of every feature set, equal to ``features.compute_model_inputs`` (the function the scorer calls)
as native Spark expressions (``batch.model_inputs``; no Python worker on the rows).
Written as Parquet partitioned by ``dt=YYYY-MM-DD``; a re-run replaces the days it computed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fraudstream import features as F
from fraudstream.batch.card_windows import add_card_windows
from fraudstream.batch.io import LABEL_COLUMN
from fraudstream.batch.merchant_features import add_merchant_features, has_merchant_inputs
from fraudstream.batch.model_inputs import add_model_inputs
from fraudstream.batch.scope import FULL, BatchScope
from fraudstream.batch.source import load_transactions, source_name
from fraudstream.batch.stream_features import add_stream_features
from fraudstream.batch.summary import SUMMARY_FILE, timed, write_summary
from fraudstream.batch.weekly_features import as_day
from fraudstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

PARTITION_COLUMN = "dt"


def _context_range(
    tx: DataFrame,
    first: date | None,
    last: date | None,
    rule: F.LabelDelayRule = F.LABEL_DELAY,
    scope: BatchScope = FULL,
) -> DataFrame:
    """Rows that can influence days [first, last]: the longest nightly window of ``scope`` before
    ``first`` (30 days for cards, delay + 30 days for merchants) feeds its features."""
    from pyspark.sql import functions as f

    if first is not None:
        start = first - timedelta(days=scope.lookback_days(rule))
        tx = tx.where(f.col("trans_time") >= f.lit(f"{start.isoformat()} 00:00:00").cast("timestamp"))
    if last is not None:
        end = last + timedelta(days=1)
        tx = tx.where(f.col("trans_time") < f.lit(f"{end.isoformat()} 00:00:00").cast("timestamp"))
    return tx


def training_frame(
    tx: DataFrame,
    from_date: date | str | None = None,
    to_date: date | str | None = None,
    native_inputs: bool = True,
    label_delay: F.LabelDelayRule = F.LABEL_DELAY,
    arrange: Callable[[DataFrame], DataFrame] | None = None,
    scope: BatchScope = FULL,
) -> DataFrame:
    """The training rows of days [from_date, to_date] (inclusive, UTC; None = open) of ``tx``.

    One shuffle by card feeds the card windows (10 minutes, then 1 / 7 / 30 days); the merchant
    runs (``label_delay``) are small per-merchant-day tables joined on (merchant, day).
    ``native_inputs`` False derives the model inputs in pandas through ``compute_model_inputs``
    (the tests' reference). ``arrange`` (the writer's exchange and sort by day) is applied to the
    computed features before the columns that need no other row are added: the model inputs (one
    division each) and, without merchants in the input, the merchant columns (NULL). Spark does not
    move a projection across an exchange, so computed before it they would be shuffled and sorted
    with every row (16 of the 33 columns). ``scope`` narrowed (``BatchScope.for_feature_sets``)
    leaves out the nightly columns and inputs its sets do not read, and their context days.
    """
    from pyspark.sql import functions as f

    first = as_day(from_date) if from_date is not None else None
    last = as_day(to_date) if to_date is not None else None
    if first and last and first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    context = _context_range(tx, first, last, label_delay, scope)
    rows = add_card_windows(add_stream_features(context), every_window=scope.card_windows)
    joins_merchants = scope.merchants and has_merchant_inputs(rows)
    if joins_merchants:
        rows = add_merchant_features(rows, label_delay)
    rows = rows.withColumn(PARTITION_COLUMN, f.to_date("trans_time"))
    if first is not None:
        rows = rows.where(f.col(PARTITION_COLUMN) >= f.lit(first))
    if last is not None:
        rows = rows.where(f.col(PARTITION_COLUMN) <= f.lit(last))

    if arrange is not None:
        rows = arrange(rows)
    if scope.merchants and not joins_merchants:
        rows = add_merchant_features(rows, label_delay)  # NULL columns
    ordered = rows.select(*tx.columns, *F.STREAM_FEATURES, *scope.nightly_columns, PARTITION_COLUMN)
    with_inputs = add_model_inputs(ordered, scope.inputs, native=native_inputs)
    columns = [c for c in with_inputs.columns if c != PARTITION_COLUMN]
    # dt stays a DATE: its directories read dt=YYYY-MM-DD as a string would, but the writer's sort
    # compares one int per row instead of strings that share their first 8 bytes within a month
    return with_inputs.select(*columns, PARTITION_COLUMN)


DICTIONARY_COLUMNS: tuple[str, ...] = ("cc_num", "fraud_label", "attack_id", "attack_kind", "merchant")
"""Columns with few distinct values per file, where Parquet's dictionary encoding pays. On every
other column (unique ``tid``, times, amounts, means, ratios) parquet-mr fills a dictionary, finds it
too large and falls back: 10 of the write's ~45 CPU s on 5.4 M rows (``benchmarks/bench_batch.py``)."""


def _parquet_options(columns: list[str]) -> dict[str, str]:
    """Dictionary encoding off, except on ``DICTIONARY_COLUMNS`` and the window counts."""
    keep = [c for c in columns if c in DICTIONARY_COLUMNS or c in F.NIGHTLY_COUNTS or c == F.NUM_TRANS_LAST_10M]
    return {"parquet.enable.dictionary": "false", **{f"parquet.enable.dictionary#{c}": "true" for c in keep}}


def arrange_by_day(rows: DataFrame) -> DataFrame:
    """The writer's layout: every row of a day in one partition, sorted by (trans_time, tid)."""
    return rows.repartition(PARTITION_COLUMN).sortWithinPartitions(PARTITION_COLUMN, "trans_time", "tid")


def write_training_set(rows: DataFrame, out_dir: str, arranged: bool = False) -> None:
    """Parquet partitioned by day, one file per day sorted by (trans_time, tid); only the written
    days are replaced. ``arranged``: ``rows`` come from ``training_frame(..., arrange=arrange_by_day)``."""
    (
        (rows if arranged else arrange_by_day(rows))
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .options(**_parquet_options(rows.columns))
        .partitionBy(PARTITION_COLUMN)
        .parquet(out_dir)
    )


def _observed_aggregates(rows: DataFrame) -> list[Column]:
    """Summary counts measured on the rows as they are written (``DataFrame.observe``: no re-read)."""
    from pyspark.sql import functions as f

    aggs = [
        f.count(f.lit(1)).alias("rows_out"),
        f.sum(f.when(f.col(F.NUM_TRANS_LAST_1W).isNull(), 1).otherwise(0)).alias("rows_without_1w_history"),
        f.date_format(f.min(PARTITION_COLUMN), "yyyy-MM-dd").alias("first_day"),  # py4j returns no dates
        f.date_format(f.max(PARTITION_COLUMN), "yyyy-MM-dd").alias("last_day"),
    ]
    if LABEL_COLUMN in rows.columns:
        aggs.append(f.sum(f.col(LABEL_COLUMN)).alias("fraud_rows"))
    return aggs


def _distinct_counts(context: DataFrame, first: date | None, last: date | None) -> dict[str, int]:
    """Cards and days of the written rows, from the input's two columns (distinct is not observable).

    Reading the 152 written day files back for these and the sums cost 28 CPU s of a 5.4 M-row run.
    """
    from pyspark.sql import functions as f

    day = f.to_date("trans_time")
    rows = context.select("cc_num", day.alias("day"))
    if first is not None:
        rows = rows.where(f.col("day") >= f.lit(first))
    if last is not None:
        rows = rows.where(f.col("day") <= f.lit(last))
    return {"cards": rows.select("cc_num").distinct().count(), "days": rows.select("day").distinct().count()}


def build_training_set(
    spark: SparkSession,
    input_path: str | None,
    out_dir: str,
    from_date: date | str | None = None,
    to_date: date | str | None = None,
    settings: Settings | None = None,
    label_delay: F.LabelDelayRule | None = None,
    scope: BatchScope = FULL,
) -> dict[str, Any]:
    """Compute and write the training set of days [from_date, to_date]; returns the run summary.

    ``label_delay`` None is ``Settings.label_delay_days``, the nightly load's default too. ``scope``:
    every column (the default) or what some feature sets read (``training_frame``)."""
    from pyspark.sql import Observation

    first = as_day(from_date) if from_date is not None else None
    last = as_day(to_date) if to_date is not None else None
    label_delay = label_delay or F.LabelDelayRule((settings or get_settings()).label_delay_days)
    summary: dict[str, Any] = {
        "command": "training-set",
        "input": source_name(input_path, settings),
        "output": str(out_dir),
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
        "label_delay_days": label_delay.delay_days,
    }
    if scope != FULL:
        summary["scope"] = scope.to_dict()
    with timed(summary):
        tx = load_transactions(spark, input_path, settings)
        summary["rows_in"] = tx.count()
        observed = Observation("training-set")

        def observed_by_day(rows: DataFrame) -> DataFrame:
            # observed below the sort: on top of it, the writer would not see the rows sorted by day
            # and would sort them again
            return arrange_by_day(rows.observe(observed, *_observed_aggregates(rows)))

        rows = training_frame(tx, first, last, label_delay=label_delay, arrange=observed_by_day, scope=scope)
        summary["columns"] = rows.columns
        write_training_set(rows, out_dir, arranged=True)
        counts = observed.get
        summary |= {k: (v if isinstance(v, str) or v is None else int(v)) for k, v in counts.items()}
        summary |= _distinct_counts(_context_range(tx, first, last, label_delay, scope), first, last)
    summary["summary_path"] = str(write_summary(summary, f"{str(out_dir).rstrip('/')}/{SUMMARY_FILE}"))
    return summary
