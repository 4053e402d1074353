"""Per-merchant nightly count and fraud risk over 1, 7 and 30 days, from labels known that night.

The third feature group, keyed by ``merchant``. The rule of what a night may know is
``features.LabelDelayRule`` (windows end ``delay_days`` before ``as_of``; a fraud counts only
if ``labelled_at < as_of``), the Fraud-Detection-Handbook's terminal risk made explicit:

* ``merchant_features(df, as_of, rule)`` — one nightly run, straight from
  ``features.merchant_aggregate_sql``;
* ``merchant_runs(df, rule)`` — the run of every day on which a merchant had a transaction
  (the values the training set joins), without one query per day: per merchant and day, the
  counts are range windows over daily totals, and the known frauds are a running sum of events
  (+1 on the first run that may use a fraud — the later of its window start and the day after
  its label — and -1 after the last run whose N-day window holds it);
* ``add_merchant_features(df, rule)`` — ``df`` joined with those runs on (merchant, day).

Both forms divide the same BIGINT counts once in DOUBLE, so they agree to the bit (tests).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from fraudstream import features as F
from fraudstream.batch.weekly_features import as_of_literal, sql_over

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LABEL = "fraud_label"
LABEL_TIME = "labelled_at"


def has_merchant_inputs(df: DataFrame) -> bool:
    """Whether ``df`` can give merchant risk: it needs ``merchant`` and ``fraud_label``."""
    return "merchant" in df.columns and LABEL in df.columns


def with_label_time(df: DataFrame, rule: F.LabelDelayRule = F.LABEL_DELAY) -> DataFrame:
    """``df`` with ``labelled_at``: as given, else ``rule.delay_days`` after the transaction (the
    rule's delay is then the whole truth of when labels come, also for the known-fraud counts,
    which have no delay of their own). A NULL ``labelled_at`` is a label not known yet."""
    from pyspark.sql import functions as f

    missing = [c for c in ("merchant", "trans_time", LABEL) if c not in df.columns]
    if missing:
        raise ValueError(f"merchant risk needs column(s) {missing} (labels and merchants); got {df.columns}")
    if LABEL_TIME in df.columns:
        return df
    return df.withColumn(LABEL_TIME, f.expr(rule.label_known_sql("CAST(trans_time AS TIMESTAMP)")))


def merchant_features(df: DataFrame, as_of: date | datetime | str, rule: F.LabelDelayRule = F.LABEL_DELAY) -> DataFrame:
    """The run of ``as_of``: ``merchant`` + ``MERCHANT_FEATURES``, one row per merchant with a
    transaction in its longest (delayed) window."""
    return sql_over(with_label_time(df, rule), lambda view: F.merchant_aggregate_sql(view, as_of_literal(as_of), rule))


def merchant_runs(df: DataFrame, rule: F.LabelDelayRule = F.LABEL_DELAY) -> DataFrame:
    """``merchant, day`` (DATE) + ``MERCHANT_FEATURES`` of the run of ``day``'s midnight, for every
    day with a transaction of that merchant. Only small per-merchant-day tables are windowed."""
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    rows = with_label_time(df, rule).where(f.col("merchant").isNotNull())
    day = f.unix_date(f.to_date(f.col("trans_time")))
    windows = list(F.MERCHANT_WINDOWS)
    known_windows = list(F.MERCHANT_KNOWN_FRAUDS)
    events_cols = [*(f"_e_{n}" for n in windows), *(f"_k0_{n}" for n in known_windows)]
    zeros = [f.lit(0).alias(c) for c in events_cols]
    totals = rows.groupBy("merchant", day.alias("d")).agg(f.count(f.lit(1)).alias("n")).select("*", *zeros)

    frauds = rows.where((f.col(LABEL) == 1) & f.col(LABEL_TIME).isNotNull()).select(
        "merchant",
        day.alias("d"),
        f.unix_date(f.to_date(f.col(LABEL_TIME))).alias("ld"),
    )
    # per window: +1 on the first run that knows the fraud and holds it (after its label day and
    # after the delay), -1 the day after the last run whose window holds it; a label that comes
    # after that last run never counts (both events 0). The known-fraud windows: the same, delay 0.
    events = []
    for column, delay, days in (
        *((f"_e_{n}", rule.delay_days, n) for n in windows),
        *((f"_k0_{n}", 0, n) for n in known_windows),
    ):
        first = f.greatest(f.col("d") + delay, f.col("ld")) + 1
        last = f.col("d") + delay + days
        keep = f.when(first <= last, 1).otherwise(0)
        for when, sign in ((first, 1), (last + 1, -1)):
            deltas = [(keep * sign if c == column else f.lit(0)).alias(c) for c in events_cols]
            events.append(f.struct(when.alias("d"), *deltas))
    events_df = (
        frauds.select("merchant", f.explode(f.array(*events)).alias("e"))
        .select("merchant", "e.*")
        .select("merchant", "d", f.lit(0).cast("bigint").alias("n"), *events_cols)
    )
    combined = totals.select("merchant", "d", "n", *events_cols).unionByName(events_df)

    by_merchant = Window.partitionBy("merchant").orderBy("d")
    so_far = by_merchant.rangeBetween(Window.unboundedPreceding, Window.currentRow)
    aggregated = []
    for days in windows:
        start, end = rule.window_days(days)
        aggregated += [
            f.sum("n").over(by_merchant.rangeBetween(-start, -end)).alias(f"_n_{days}"),
            f.sum(f"_e_{days}").over(so_far).alias(f"_k_{days}"),
        ]
    for days in known_windows:
        aggregated += [
            f.sum("n").over(by_merchant.rangeBetween(-days, -1)).alias(f"_n0_{days}"),
            f.sum(f"_k0_{days}").over(so_far).alias(f"_f0_{days}"),
        ]
    runs = combined.select("merchant", "d", "n", *aggregated).where(f.col("n") > 0)
    features = []
    for days, (count_name, risk_name) in F.MERCHANT_WINDOWS.items():
        n = f.col(f"_n_{days}")
        features += [
            f.when(n > 0, n.cast("bigint")).alias(count_name),
            f.when(n > 0, f.col(f"_k_{days}").cast("bigint").cast("double") / n.cast("bigint")).alias(risk_name),
        ]
    for days, name in F.MERCHANT_KNOWN_FRAUDS.items():
        features.append(f.when(f.col(f"_n0_{days}") > 0, f.col(f"_f0_{days}").cast("bigint")).alias(name))
    episodes = _episode_runs(rows, runs.select("merchant", "d"))
    for days, name in F.MERCHANT_KNOWN_FRAUD_CARDS.items():
        cards = f.coalesce(f.col(f"_c_{days}"), f.lit(0)).cast("bigint")
        features.append(f.when(f.col(f"_n0_{days}") > 0, cards).alias(name))
    features += [f.col(name) for name in F.MERCHANT_EPISODE_FEATURES]
    return runs.join(episodes, ["merchant", "d"], "left").select(
        "merchant", f.date_from_unix_date("d").alias("day"), *features
    )


def _episode_runs(rows: DataFrame, run_days: DataFrame) -> DataFrame:
    """Per ``merchant, d`` of ``run_days`` that knows a fraud: ``_c_<N>`` (distinct cards of the known
    frauds in [d - N, d)), and ``MERCHANT_EPISODE_FEATURES`` over [d - EPISODE_DAYS, d): a join of the
    run days with the (few) known frauds, then with the rows after the last one. Same day numbers as
    the SQL's DATEDIFF (UTC days), same ``labelled_at < as_of`` (the label's day before the run's)."""
    from pyspark.sql import functions as f

    day = f.unix_date(f.to_date(f.col("trans_time")))
    label_day = f.unix_date(f.to_date(f.col(LABEL_TIME)))
    frauds = rows.where((f.col(LABEL) == 1) & f.col(LABEL_TIME).isNotNull()).select(
        f.col("merchant").alias("_m"), day.alias("fd"), label_day.alias("ld"), "cc_num", "trans_time"
    )
    longest = max(F.EPISODE_DAYS, *F.MERCHANT_KNOWN_FRAUD_CARDS)
    known = run_days.join(
        frauds,
        (run_days["merchant"] == frauds["_m"])
        & (frauds["fd"] >= run_days["d"] - longest)
        & (frauds["fd"] < run_days["d"])
        & (frauds["ld"] < run_days["d"]),
    )
    in_episode = f.col("fd") >= f.col("d") - F.EPISODE_DAYS
    per_day = known.groupBy("merchant", "d").agg(
        *(
            f.count_distinct(f.when(f.col("fd") >= f.col("d") - days, f.col("cc_num"))).alias(f"_c_{days}")
            for days in F.MERCHANT_KNOWN_FRAUD_CARDS
        ),
        f.min(f.when(in_episode, f.col("fd"))).alias("_first"),
        f.max(f.when(in_episode, f.col("fd"))).alias("_last"),
        f.max(f.when(in_episode, f.col("trans_time"))).alias("_last_time"),
    )
    legit = rows.where((f.col(LABEL) == 0) & f.col(LABEL_TIME).isNotNull()).select(
        f.col("merchant").alias("_m"), day.alias("td"), label_day.alias("ld"), f.col("trans_time").alias("_t")
    )
    after = (
        per_day.where(f.col("_last_time").isNotNull())
        .join(
            legit,
            (per_day["merchant"] == legit["_m"])
            & (legit["_t"] > per_day["_last_time"])
            & (legit["td"] < per_day["d"])
            & (legit["ld"] < per_day["d"]),
        )
        .groupBy("merchant", "d")
        .agg(f.count(f.lit(1)).alias("_after"))
    )
    # the run's known-fraud cards with a known fraud at another merchant in the same window
    cards = known.where(in_episode).select("merchant", "d", "cc_num").distinct()
    other = frauds.select(
        f.col("_m").alias("_m2"), f.col("fd").alias("_fd2"), f.col("ld").alias("_ld2"), f.col("cc_num").alias("_c2")
    )
    elsewhere = cards.join(
        other,
        (cards["cc_num"] == other["_c2"])
        & (other["_m2"] != cards["merchant"])
        & (other["_fd2"] >= cards["d"] - F.EPISODE_DAYS)
        & (other["_fd2"] < cards["d"])
        & (other["_ld2"] < cards["d"]),
        "left_semi",
    )
    own = (
        cards.join(elsewhere, ["merchant", "d", "cc_num"], "left_anti")
        .groupBy("merchant", "d")
        .agg(f.count(f.lit(1)).alias("_own"))
    )
    episode = f.col("_last").isNotNull()
    return (
        per_day.join(after, ["merchant", "d"], "left")
        .join(own, ["merchant", "d"], "left")
        .select(
            "merchant",
            "d",
            *(f"_c_{days}" for days in F.MERCHANT_KNOWN_FRAUD_CARDS),
            (f.col("d") - f.col("_first")).cast("int").alias(F.MERCHANT_FIRST_KNOWN_FRAUD_AGE),
            (f.col("d") - f.col("_last")).cast("int").alias(F.MERCHANT_LAST_KNOWN_FRAUD_AGE),
            f.when(episode, f.coalesce(f.col("_after"), f.lit(0)))
            .cast("bigint")
            .alias(F.MERCHANT_KNOWN_LEGIT_AFTER_FRAUD),
            f.when(episode, f.coalesce(f.col("_own"), f.lit(0))).cast("bigint").alias(F.MERCHANT_KNOWN_FRAUD_OWN_CARDS),
        )
    )


def add_merchant_features(df: DataFrame, rule: F.LabelDelayRule = F.LABEL_DELAY) -> DataFrame:
    """``df`` plus ``MERCHANT_FEATURES`` as the run of the row's day would serve them (NULL for a
    merchant without transactions in a window, and for every row when ``df`` has no merchants or
    labels: the columns are always there, so every training set has one schema)."""
    from pyspark.sql import functions as f

    if not has_merchant_inputs(df):
        return df.select("*", *(f.lit(None).cast(_type(name)).alias(name) for name in F.MERCHANT_FEATURES))
    runs = merchant_runs(df, rule).withColumnRenamed("merchant", "_merchant").withColumnRenamed("day", "_day")
    joined = df.join(
        runs,
        (df["merchant"] == runs["_merchant"]) & (f.to_date(df["trans_time"]) == runs["_day"]),
        "left",
    )
    return joined.select(*(df[c] for c in df.columns), *F.MERCHANT_FEATURES)


def _type(name: str) -> str:
    if name in (F.MERCHANT_FIRST_KNOWN_FRAUD_AGE, F.MERCHANT_LAST_KNOWN_FRAUD_AGE):
        return "int"
    counts = ("merchant_num_trans", "merchant_known_frauds", "merchant_known_fraud_cards", "merchant_known_legit")
    return "bigint" if name.startswith(counts) else "double"
