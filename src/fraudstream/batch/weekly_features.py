"""The 1-week features: per card, count and mean amount over [as_of - 7 days, as_of).

The week has two forms here, both in whole UTC days ``as_of - BATCH_WINDOW_DAYS`` .. ``as_of - 1``:
:func:`weekly_runs` (a day's per-card totals count for the runs of the midnights that follow it)
serves the consumers that need runs, and :func:`add_weekly_features` is the same week as a window
over each card's own rows, for the training set:

* ``weekly_features_for_days(df, first, last)`` — backfill: every nightly run in a range;
* ``add_weekly_features(df)`` — the training set: on every transaction, what the run of its
  day's midnight materialised (ends *before* the row's day: point-in-time correct); a window,
  so the 5.4 M rows are shuffled once with the 10-minute window instead of joined with every run;
* ``expired_cards(df, as_of)`` — cards the previous run wrote and this one does not.

``weekly_features(df, as_of)`` is one nightly run straight from ``features.batch_aggregate_sql``,
the engine-neutral definition; the runs sum ``amount`` as ``features.AMOUNT_SQL_TYPE`` and divide
once in DOUBLE exactly like it, so they agree to the bit (tests compare them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from fraudstream import features as F

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def as_day(value: date | datetime | str) -> date:
    """A UTC calendar day from a date, a datetime (must be a UTC midnight) or ``YYYY-MM-DD``."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10]) if len(value) <= 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.utcoffset():
            raise ValueError(f"as_of must be a UTC midnight, got {value.isoformat()}")
        if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0):
            raise ValueError(f"as_of must be a UTC midnight, got {value.isoformat()}")
        return value.date()
    return value


def as_of_literal(as_of: date | datetime | str) -> str:
    """SQL timestamp literal of the UTC midnight ``as_of`` (the session time zone is UTC)."""
    return f"TIMESTAMP '{as_day(as_of).isoformat()} 00:00:00'"


def sql_over(df: DataFrame, sql_of: Callable[[str], str]) -> DataFrame:
    """``sql_of(view)`` run over ``df`` as a temporary view: the shared SQL text of ``features`` runs
    verbatim (the view is dropped once the plan is built; the plan keeps the data)."""
    view = f"fs_input_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    try:
        return df.sparkSession.sql(sql_of(view))
    finally:
        df.sparkSession.catalog.dropTempView(view)


def weekly_features(df: DataFrame, as_of: date | datetime | str) -> DataFrame:
    """The nightly run for ``as_of``: one row per card with a transaction in [as_of - 7 d, as_of)."""
    return sql_over(df, lambda view: F.batch_aggregate_sql(view, as_of_literal(as_of)))


def _midnight(day: date | datetime | str) -> Column:
    """The UTC midnight of ``day`` as a Spark timestamp (the session time zone is UTC)."""
    from pyspark.sql import functions as f

    return f.lit(f"{as_day(day).isoformat()} 00:00:00").cast("timestamp")


def daily_totals(df: DataFrame) -> DataFrame:
    """Per card and UTC day: ``day`` (DATE), ``n``, ``amount_sum`` (exact decimal)."""
    from pyspark.sql import functions as f

    return df.groupBy("cc_num", f.to_date(f.col("trans_time")).alias("day")).agg(
        f.count(f.lit(1)).alias("n"), f.sum(f.col("amount").cast(F.AMOUNT_SQL_TYPE)).alias("amount_sum")
    )


def weekly_runs(df: DataFrame, first: date | str | None = None, last: date | str | None = None) -> DataFrame:
    """``cc_num, as_of, n, amount_sum`` of every nightly run (``as_of`` in [first, last] when given).

    The one definition of the week: the run of midnight ``as_of`` covers the days
    ``as_of - BATCH_WINDOW_DAYS`` .. ``as_of - 1``, so each day's totals go to the runs 1..7 days later.
    A card with nothing in a run's week has no row for that run.
    """
    from pyspark.sql import functions as f

    if first is not None:  # only the days some run in the range reads
        df = df.where(f.col("trans_time") >= _midnight(as_day(first) - timedelta(days=F.BATCH_WINDOW_DAYS)))
    if last is not None:
        df = df.where(f.col("trans_time") < _midnight(last))
    offsets = f.explode(f.sequence(f.lit(1), f.lit(F.BATCH_WINDOW_DAYS))).alias("offset")
    runs = daily_totals(df).select("cc_num", "day", "n", "amount_sum", offsets)
    runs = runs.select("cc_num", "n", "amount_sum", f.date_add(f.col("day"), f.col("offset")).alias("as_of"))
    if first is not None:
        runs = runs.where(f.col("as_of") >= f.lit(as_day(first)))
    if last is not None:
        runs = runs.where(f.col("as_of") <= f.lit(as_day(last)))
    return runs.groupBy("cc_num", "as_of").agg(f.sum("n").alias("n"), f.sum("amount_sum").alias("amount_sum"))


def _features(runs: DataFrame) -> list[Column]:
    """The two 1-week features of ``weekly_runs`` rows."""
    from pyspark.sql import functions as f

    n = f.col("n")
    return [
        n.cast("bigint").alias(F.NUM_TRANS_LAST_1W),
        (f.col("amount_sum").cast("double") / n).alias(F.AVG_AMT_LAST_1W),
    ]


def weekly_features_for_days(df: DataFrame, first: date | str, last: date | str) -> DataFrame:
    """Every nightly run with ``as_of`` (DATE) in [first, last]: ``cc_num, as_of`` + 1-week features."""
    runs = weekly_runs(df, first, last)
    return runs.select("cc_num", "as_of", *_features(runs))


def add_weekly_features(df: DataFrame) -> DataFrame:
    """``df`` plus, on every row, the 1-week features the nightly run of the row's UTC day wrote.

    NULL when the card had no transaction in that run's week (the store then holds no item for it).
    A window over the card's own rows (days ``day - BATCH_WINDOW_DAYS`` .. ``day - 1``) instead of a
    join with every run: partitioned by ``cc_num`` like the 10-minute window, so the training set
    shuffles its rows once (a join with ``weekly_runs`` shuffled them again and exploded 7 rows
    per card-day). Equal to the nightly SQL to the bit (tests compare them).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    day = f.unix_date(f.to_date(f.col("trans_time")))
    week = Window.partitionBy("cc_num").orderBy(day).rangeBetween(-F.BATCH_WINDOW_DAYS, -1)
    counted = df.select(
        "*",
        f.count(f.lit(1)).over(week).alias("_n_1w"),
        f.sum(f.col("amount").cast(F.AMOUNT_SQL_TYPE)).over(week).alias("_sum_1w"),
    )
    n = f.col("_n_1w")
    return counted.select(
        *df.columns,
        f.when(n > 0, n.cast("bigint")).alias(F.NUM_TRANS_LAST_1W),
        f.when(n > 0, f.col("_sum_1w").cast("double") / n).alias(F.AVG_AMT_LAST_1W),
    )


def expired_cards(df: DataFrame, as_of: date | datetime | str) -> DataFrame:
    """Cards the previous nightly run wrote but the run of ``as_of`` does not: ``cc_num`` only.

    A card whose only transactions in the previous run's week fall on its first day has no history
    any more. The nightly load writes it an explicit empty item so that the store stops serving
    last week's values, exactly as the training set (which sees no history for it) expects.
    """
    from pyspark.sql import functions as f

    day = as_day(as_of)
    runs = weekly_runs(df, day - timedelta(days=1), day)
    previous = runs.where(f.col("as_of") < f.lit(day)).select("cc_num")
    return previous.join(runs.where(f.col("as_of") == f.lit(day)).select("cc_num"), "cc_num", "left_anti")
