"""The 1-week features: per card, count and mean amount over [as_of - 7 days, as_of).

Three views of the same numbers, each for one consumer:

* ``weekly_features(df, as_of)`` — one nightly run, straight from ``features.batch_aggregate_sql``;
* ``add_weekly_features(df)`` — for the training set: on every transaction, what the nightly run
  of its day's midnight materialised, for all days at once (a range window over day numbers that
  ends *before* the row's day: point-in-time correct);
* ``weekly_features_for_days(df, first, last)`` — for backfill: every nightly run in a range at
  once (each day's totals feed the seven following midnights).

All three sum ``amount`` as ``features.AMOUNT_SQL_TYPE`` and divide once in DOUBLE, exactly like
``batch_aggregate_sql``, so they agree to the bit (tests compare them).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
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


def weekly_features(df: DataFrame, as_of: date | datetime | str) -> DataFrame:
    """The nightly run for ``as_of``: one row per card with a transaction in [as_of - 7 d, as_of)."""
    view = f"fs_weekly_input_{uuid.uuid4().hex}"
    df.createOrReplaceTempView(view)
    try:
        return df.sparkSession.sql(F.batch_aggregate_sql(view, as_of_literal(as_of)))
    finally:
        df.sparkSession.catalog.dropTempView(view)


def expired_cards(df: DataFrame, as_of: date | datetime | str) -> DataFrame:
    """Cards the previous nightly run wrote but the run of ``as_of`` does not: ``cc_num`` only.

    The run of ``as_of - 1 day`` covered [as_of - 8 d, as_of - 1 d); a card whose only
    transactions there fall in [as_of - 8 d, as_of - 7 d) has no history any more. The nightly
    load writes it an explicit empty item so that the store stops serving last week's values,
    exactly as the training set (which sees no history for it) expects.
    """
    from pyspark.sql import functions as f

    midnight = f.lit(as_of_literal(as_of).removeprefix("TIMESTAMP ").strip("'")).cast("timestamp")
    week = f.expr(f"INTERVAL {F.BATCH_WINDOW_DAYS} DAYS")
    day = f.expr("INTERVAL 1 DAYS")
    t = f.col("trans_time")
    dropped_edge = df.where((t >= midnight - week - day) & (t < midnight - week)).select("cc_num").distinct()
    active = df.where((t >= midnight - week) & (t < midnight)).select("cc_num").distinct()
    return dropped_edge.join(active, "cc_num", "left_anti")


def daily_totals(df: DataFrame) -> DataFrame:
    """Per card and UTC day: ``day`` (DATE), ``day_num`` (days since epoch), ``n``, ``amount_sum`` (exact)."""
    from pyspark.sql import functions as f

    day = f.to_date(f.col("trans_time"))
    return (
        df.groupBy("cc_num", day.alias("day"))
        .agg(f.count(f.lit(1)).alias("n"), f.sum(f.col("amount").cast(F.AMOUNT_SQL_TYPE)).alias("amount_sum"))
        .withColumn("day_num", f.datediff(f.col("day"), f.lit("1970-01-01").cast("date")))
    )


def _features_from_totals(n: Column, amount_sum: Column) -> list[Column]:
    """The two 1-week features from window totals: NULL (no item) when the week is empty."""
    from pyspark.sql import functions as f

    has_history = n > 0
    return [
        f.when(has_history, n).cast("bigint").alias(F.NUM_TRANS_LAST_1W),
        f.when(has_history, amount_sum.cast("double") / n).alias(F.AVG_AMT_LAST_1W),
    ]


def add_weekly_features(df: DataFrame) -> DataFrame:
    """``df`` plus, on every row, the 1-week features the nightly run of the row's UTC day wrote.

    That run covered [day - 7 d, day): a range window over day numbers that ends the day *before*
    the row's day, so no transaction of the row's own day (or later) is ever used. NULL when the
    card had no transaction in those 7 days (the store then holds no item for it). Partitioned by
    ``cc_num`` like the 10-minute window, so Spark reuses that shuffle.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    day_num = f.datediff(f.to_date(f.col("trans_time")), f.lit("1970-01-01").cast("date"))
    week_before = Window.partitionBy("cc_num").orderBy("_day_num").rangeBetween(-F.BATCH_WINDOW_DAYS, -1)
    n = f.count(f.lit(1)).over(week_before)
    amount_sum = f.sum(f.col("amount").cast(F.AMOUNT_SQL_TYPE)).over(week_before)
    return df.withColumn("_day_num", day_num).select("*", *_features_from_totals(n, amount_sum)).drop("_day_num")


def weekly_features_for_days(df: DataFrame, first: date | str, last: date | str) -> DataFrame:
    """Every nightly run with ``as_of`` (DATE) in [first, last]: ``cc_num, as_of`` + 1-week features."""
    from pyspark.sql import functions as f

    first_day, last_day = as_day(first), as_day(last)
    offsets = f.sequence(f.lit(1), f.lit(F.BATCH_WINDOW_DAYS))
    contributions = (
        daily_totals(df)
        .select("cc_num", "day", "n", "amount_sum", f.explode(offsets).alias("offset"))
        .withColumn("as_of", f.date_add(f.col("day"), f.col("offset")))
        .where(f.col("as_of").between(f.lit(first_day), f.lit(last_day)))
    )
    grouped = contributions.groupBy("cc_num", "as_of").agg(
        f.sum("n").alias("n"), f.sum("amount_sum").alias("amount_sum")
    )
    return grouped.select("cc_num", "as_of", *_features_from_totals(f.col("n"), f.col("amount_sum")))
