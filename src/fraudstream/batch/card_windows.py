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


def add_card_windows(df: DataFrame, every_window: bool = True) -> DataFrame:
    """``df`` plus ``BATCH_FEATURES``, ``CARD_WINDOW_FEATURES`` and ``CARD_AMOUNT_PROFILE`` as served
    on the row's day; ``every_window`` False: ``BATCH_FEATURES`` only (the same values, fewer frames).

    Each window of N days (``day - N`` .. ``day - 1``) is the difference of two running totals over
    the card's days: everything up to ``day - 1`` minus everything up to ``day - N - 1``. Both are
    growing frames (``UNBOUNDED PRECEDING``), which Spark keeps incrementally, where a sliding
    frame re-aggregates its whole buffer (up to 30 days of the card's rows) whenever it moves. The
    totals are whole counts and whole cents, so the difference is exact and the mean equal to the
    SQL's to the bit. All frames share the partition and order, so Spark evaluates them in one sort.
    NULL for an empty window. The 30-day deviation from running totals of cents and squared cents
    (exact integers, the SQL's formula), the maximum over a sliding frame of the 30 days.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    windows = F.CARD_WINDOWS if every_window else {F.BATCH_WINDOW_DAYS: F.CARD_WINDOWS[F.BATCH_WINDOW_DAYS]}
    day = f.unix_date(f.to_date(f.col("trans_time")))
    by_card = Window.partitionBy("cc_num").orderBy(day)
    upto = sorted({1, *(days + 1 for days in windows)})  # running totals up to day - k
    profile_upto = (1, F.CARD_AMOUNT_PROFILE_DAYS + 1) if every_window else ()
    cents = f.col("_cents")  # computed once per row, not once per frame
    totals = []
    for k in upto:
        frame = by_card.rangeBetween(Window.unboundedPreceding, -k)
        totals += [
            f.count(f.lit(1)).over(frame).alias(f"_n_upto_{k}"),
            f.sum(cents).over(frame).alias(f"_s_upto_{k}"),
        ]
        if k in profile_upto:
            totals.append(f.sum(cents * cents).over(frame).alias(f"_q_upto_{k}"))
    if every_window:
        # a sliding frame re-aggregates its buffer (~100 rows) at each of the card's days: over whole
        # cents that is a long comparison per row, over the DECIMAL a new Decimal object per row
        last_30 = by_card.rangeBetween(-F.CARD_AMOUNT_PROFILE_DAYS, -1)
        totals.append((f.max(cents).over(last_30).cast("double") / 100.0).alias("_max_30"))
    out = df.select("*", _cents().alias("_cents")).select("*", *totals)
    features = []
    for days, (count_name, mean_name) in windows.items():
        n = f.col("_n_upto_1") - f.col(f"_n_upto_{days + 1}")
        cents = f.col("_s_upto_1") - f.coalesce(f.col(f"_s_upto_{days + 1}"), f.lit(0))
        features += [
            f.when(n > 0, n.cast("bigint")).alias(count_name),
            f.when(n > 0, cents.cast("double") / 100.0 / n).alias(mean_name),
        ]
    if not every_window:
        return out.select(*df.columns, *features)
    days = F.CARD_AMOUNT_PROFILE_DAYS
    n = (f.col("_n_upto_1") - f.col(f"_n_upto_{days + 1}")).cast("bigint")
    s = f.col("_s_upto_1") - f.coalesce(f.col(f"_s_upto_{days + 1}"), f.lit(0))
    q = f.col("_q_upto_1") - f.coalesce(f.col(f"_q_upto_{days + 1}"), f.lit(0))
    spread = (n * q - s * s).cast("double") / (n * n).cast("double")
    features += [
        f.when(n > 0, f.sqrt(spread) / 100.0).alias(F.AMT_STD_LAST_30D),
        f.when(n > 0, f.col("_max_30")).alias(F.MAX_AMT_LAST_30D),
    ]
    return out.select(*df.columns, *features)
