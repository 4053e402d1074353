"""Per-card nightly windows of 1, 7 and 30 days (``features.CARD_WINDOWS``), run and training set.

They are the card windows group (``featurestore.groups.CARD_WINDOWS_GROUP``: an item per card active
in 30 days; why a group of its own is said there). The training set computes all three windows over
the partition and sort the 1-week window already uses, so they cost no extra shuffle.

* ``card_window_features(df, as_of)`` — one nightly run, straight from
  ``features.card_windows_aggregate_sql`` (the engine-neutral definition);
* ``add_card_windows(df)`` — the training set: on every transaction, the values the run of its
  day's midnight wrote (windows end before the row's day: point in time); equal to the SQL to the bit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from fraudstream import features as F
from fraudstream.batch.weekly_features import as_of_literal, sql_over

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def card_window_features(df: DataFrame, as_of: date | datetime | str) -> DataFrame:
    """The run of ``as_of``: ``cc_num`` + every card window, one row per card active in its 30 days."""
    return sql_over(df, lambda view: F.card_windows_aggregate_sql(view, as_of_literal(as_of)))


def _cents() -> Column:
    """``amount`` as ``AMOUNT_SQL_TYPE`` in whole cents (BIGINT).

    The windows sum cents instead of decimals: a sliding window re-adds its frame whenever the
    frame moves (each card-day), and a DECIMAL(12, 2) sum is a DECIMAL(22, 2), a BigDecimal per
    add. The mean is still the SQL's to the bit: a sum of cents below 2^53 is an exact double, and
    IEEE division by 100 rounds it to the double nearest the decimal sum, as CAST(sum AS DOUBLE) does.
    """
    from pyspark.sql import functions as f

    return (f.col("amount").cast(F.AMOUNT_SQL_TYPE) * 100).cast("bigint")


def add_card_windows(df: DataFrame) -> DataFrame:
    """``df`` plus ``BATCH_FEATURES`` and ``CARD_WINDOW_FEATURES`` as served on the row's day.

    One window per length over the card's own earlier days (``day - N`` .. ``day - 1``), all with
    the same partition and order, so Spark evaluates them in one sort. NULL for an empty window.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    day = f.unix_date(f.to_date(f.col("trans_time")))
    by_card = Window.partitionBy("cc_num").orderBy(day)
    counted = []
    for days in F.CARD_WINDOWS:
        frame = by_card.rangeBetween(-days, -1)
        counted += [f.count(f.lit(1)).over(frame).alias(f"_n_{days}"), f.sum(_cents()).over(frame).alias(f"_s_{days}")]
    out = df.select("*", *counted)
    features = []
    for days, (count_name, mean_name) in F.CARD_WINDOWS.items():
        n = f.col(f"_n_{days}")
        features += [
            f.when(n > 0, n.cast("bigint")).alias(count_name),
            f.when(n > 0, f.col(f"_s_{days}").cast("double") / 100.0 / n).alias(mean_name),
        ]
    return out.select(*df.columns, *features)
