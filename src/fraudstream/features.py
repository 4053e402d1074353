"""The one definition of every feature: window lengths, names, SQL and model-input formulas.

The Flink job, the Spark batch job, the fraud scorer and the trainer all import this module,
so a feature cannot mean one thing in training and another in serving (no train/serve skew).

Numerical identity across engines: amounts are DECIMAL(12, 2) inside SQL, so window sums are
exact in both Flink and Spark; the mean is ``CAST(SUM(amount) AS DOUBLE) / COUNT(*)``, which is
one correctly rounded conversion and one IEEE division in both JVMs, hence bit-identical.
(A DOUBLE ``AVG`` would not be: Flink's OVER window adds and retracts incrementally.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import numpy as np

# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------
STREAM_WINDOW = timedelta(minutes=10)
"""Streaming window: transactions with trans_time in [t - 10 min, t], current row included."""

BATCH_WINDOW = timedelta(days=7)
"""Nightly window: transactions in [as_of - 7 days, as_of), as_of being a UTC midnight."""

STREAM_WINDOW_MINUTES = int(STREAM_WINDOW.total_seconds() // 60)
BATCH_WINDOW_DAYS = BATCH_WINDOW.days

AMOUNT_SQL_TYPE = "DECIMAL(12, 2)"
"""SQL type of ``amount`` inside both engines (exact sums; see module docstring)."""

# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------
NUM_TRANS_LAST_10M = "num_trans_last_10m"
AVG_AMT_LAST_10M = "avg_amt_last_10m"
MAX_AMT_LAST_10M = "max_amt_last_10m"
NUM_TRANS_LAST_1W = "num_trans_last_1w"
AVG_AMT_LAST_1W = "avg_amt_last_1w"

AMT_RATIO1 = "amt_ratio1"
AMT_RATIO2 = "amt_ratio2"
COUNT_RATIO = "count_ratio"
MAX_AMT_RATIO = "max_amt_ratio"

STREAM_FEATURES: tuple[str, ...] = (NUM_TRANS_LAST_10M, AVG_AMT_LAST_10M, MAX_AMT_LAST_10M)
"""What the streaming window adds to each transaction (the ``cc-agg`` record)."""

BATCH_FEATURES: tuple[str, ...] = (NUM_TRANS_LAST_1W, AVG_AMT_LAST_1W)
"""What the nightly job materialises per card (the ``cc-agg-batch-fg`` item)."""

ANCHOR_INPUTS: tuple[str, ...] = ("amount", AMT_RATIO1, AMT_RATIO2, COUNT_RATIO)
"""The anchor model's inputs, in this order (DESIGN.md)."""

EXTENDED_INPUTS: tuple[str, ...] = (*ANCHOR_INPUTS, NUM_TRANS_LAST_10M, MAX_AMT_RATIO)
"""Second feature set: the anchor inputs plus the raw 10-minute count and the max-amount ratio.
Both extra inputs come from window aggregates that Flink and Spark compute identically."""

# --------------------------------------------------------------------------------------------
# Nightly multi-window features (issue 15): per card 1 / 7 / 30 days, per merchant count + risk
# --------------------------------------------------------------------------------------------
NUM_TRANS_LAST_1D = "num_trans_last_1d"
AVG_AMT_LAST_1D = "avg_amt_last_1d"
NUM_TRANS_LAST_30D = "num_trans_last_30d"
AVG_AMT_LAST_30D = "avg_amt_last_30d"

CARD_WINDOWS: dict[int, tuple[str, str]] = {
    1: (NUM_TRANS_LAST_1D, AVG_AMT_LAST_1D),
    BATCH_WINDOW_DAYS: (NUM_TRANS_LAST_1W, AVG_AMT_LAST_1W),
    30: (NUM_TRANS_LAST_30D, AVG_AMT_LAST_30D),
}
"""Nightly card windows: days -> (count, mean amount) over [as_of - days, as_of). The 7-day window
*is* the 1-week batch window (same names, same values), so it is not defined twice."""

CARD_WINDOW_FEATURES: tuple[str, ...] = (NUM_TRANS_LAST_1D, AVG_AMT_LAST_1D, NUM_TRANS_LAST_30D, AVG_AMT_LAST_30D)
"""What the nightly job adds per card beside ``BATCH_FEATURES`` (the card windows group, same run)."""

AMT_STD_LAST_30D = "amt_std_last_30d"
MAX_AMT_LAST_30D = "max_amt_last_30d"
CARD_AMOUNT_PROFILE_DAYS = 30
CARD_AMOUNT_PROFILE: tuple[str, ...] = (AMT_STD_LAST_30D, MAX_AMT_LAST_30D)
"""Nightly, per card, over the 30-day window of ``CARD_WINDOWS`` ([as_of - 30 d, as_of)): the
population standard deviation and the maximum of the amounts (both NULL without transactions; the
deviation is 0 for one). The customer-compromise pattern (the Handbook's third scenario: a third of
a card's transactions at five times its usual amount) is an amount far from the card's spread and
above anything it paid in a month. The deviation is exact: from whole cents,
``sqrt((n * sum(c^2) - sum(c)^2) / n^2) / 100`` with the numerator an exact integer, one conversion
to DOUBLE, one division, one square root and one division (IEEE, the same in every engine)."""

MERCHANT_WINDOWS: dict[int, tuple[str, str]] = {
    days: (f"merchant_num_trans_{days}d", f"merchant_risk_{days}d") for days in (1, 7, 30)
}
"""Nightly merchant windows: days -> (transaction count, fraud risk) over the label-delayed window
``LabelDelayRule.window`` (the Fraud-Detection-Handbook's terminal count and risk)."""

MERCHANT_KNOWN_FRAUDS: dict[int, str] = {days: f"merchant_known_frauds_{days}d" for days in (1, 7, 30)}
"""Nightly merchant windows without the delay: days -> the number of frauds among the merchant's
transactions in [as_of - N d, as_of) whose label was known before ``as_of`` (``labelled_at``).
The delayed windows above cannot see a compromise's first ``delay_days``; the chargebacks that
already came in can (rich profile, 1 M rows, 7-day delay: test average precision 0.53 -> 0.63).
A count, not a share: recent transactions whose labels are still to come would dilute a share."""

MERCHANT_WINDOW_FEATURES: tuple[str, ...] = tuple(name for pair in MERCHANT_WINDOWS.values() for name in pair)
"""The delayed merchant count and risk (the ``merchant-risk`` set's merchant inputs)."""

MERCHANT_KNOWN_FRAUD_CARDS: dict[int, str] = {days: f"merchant_known_fraud_cards_{days}d" for days in (7, 30)}
"""Nightly, no delay: days -> the number of *distinct cards* among the known frauds of
``MERCHANT_KNOWN_FRAUDS`` (same window, same rule; 0 when none is known, NULL without transactions).
A compromised terminal defrauds every card that pays there; one compromised card that happens to
pay twice at a shop gives two known frauds but one card (rich profile: the commonest false alarm)."""

EPISODE_DAYS = 30
"""The merchant episode features look at the merchant's transactions in [as_of - 30 d, as_of)."""
MERCHANT_FIRST_KNOWN_FRAUD_AGE = "merchant_first_known_fraud_age_30d"
MERCHANT_LAST_KNOWN_FRAUD_AGE = "merchant_last_known_fraud_age_30d"
MERCHANT_KNOWN_LEGIT_AFTER_FRAUD = "merchant_known_legit_after_fraud_30d"
MERCHANT_KNOWN_FRAUD_OWN_CARDS = "merchant_known_fraud_own_cards_30d"
MERCHANT_EPISODE_FEATURES: tuple[str, ...] = (
    MERCHANT_FIRST_KNOWN_FRAUD_AGE,
    MERCHANT_LAST_KNOWN_FRAUD_AGE,
    MERCHANT_KNOWN_LEGIT_AFTER_FRAUD,
    MERCHANT_KNOWN_FRAUD_OWN_CARDS,
)
"""Nightly, no delay, over the ``EPISODE_DAYS`` window, from the frauds known before ``as_of``: the
age in whole days (as_of's day minus the transaction's UTC day) of the earliest and of the latest
known fraud, and the number of the merchant's transactions after the latest known fraud that are
known to be legitimate (``fraud_label = 0`` and ``labelled_at < as_of``). All three are NULL when no
fraud is known. A compromise lasts for days from a start day (the Handbook's 28): the first age
says how long it has been running, and legitimate labels after the last fraud say it has ended.
The fourth: the distinct cards of those known frauds with no known fraud at another merchant in the
same window (a compromised card is defrauded at many shops, a compromised shop's cards only there)."""

MERCHANT_FEATURES: tuple[str, ...] = (
    *MERCHANT_WINDOW_FEATURES,
    *MERCHANT_KNOWN_FRAUDS.values(),
    *MERCHANT_KNOWN_FRAUD_CARDS.values(),
    *MERCHANT_EPISODE_FEATURES,
)
"""What the nightly job materialises per merchant (the third feature group, keyed by ``merchant``)."""

NIGHTLY_WINDOW_DAYS = max(max(CARD_WINDOWS), max(MERCHANT_WINDOWS))
"""The longest nightly window (days); a run also reaches ``LabelDelayRule.delay_days`` further back."""


@dataclass(frozen=True)
class LabelDelayRule:
    """Which fraud labels a nightly run of ``as_of`` may use for merchant risk, and over which days.

    Chargebacks arrive days after the transaction, so a recent window would look clean. Two
    conditions, both applied: a label counts only if it was *known* (``labelled_at < as_of``), and
    the windows end ``delay_days`` before ``as_of`` (the Handbook's delay period, 7 days): merchant
    count and risk over [as_of - delay - N days, as_of - delay). ``delay_days`` 0 keeps only the first.
    The known-fraud counts (``MERCHANT_KNOWN_FRAUDS``) keep only the first, always. Data without
    ``labelled_at`` (e.g. the Handbook's) has each label known ``delay_days`` after its transaction
    (``label_known_sql``), so no window ever reads a label sooner than the rule allows.
    """

    delay_days: int = 7

    def __post_init__(self) -> None:
        if not isinstance(self.delay_days, int) or not 0 <= self.delay_days <= 365:
            raise ValueError(f"label delay must be a whole number of days in 0..365, got {self.delay_days!r}")

    def window_days(self, days: int) -> tuple[int, int]:
        """(first, last) day offsets before ``as_of`` of an N-day window: days as_of-first .. as_of-last."""
        return self.delay_days + days, self.delay_days + 1

    def label_known_sql(self, trans_time: str = "trans_time") -> str:
        """When a label is known if the data does not say (no ``labelled_at``): ``delay_days`` later."""
        return f"{trans_time} + INTERVAL '{self.delay_days}' DAY" if self.delay_days else trans_time

    @property
    def lookback_days(self) -> int:
        """How many days before ``as_of`` the longest merchant window reaches."""
        return self.delay_days + max(MERCHANT_WINDOWS)


LABEL_DELAY = LabelDelayRule()
"""The default rule: the Handbook's 7-day delay plus ``labelled_at < as_of``."""

NIGHTLY_INPUTS: tuple[str, ...] = (*BATCH_FEATURES, *CARD_WINDOW_FEATURES, *CARD_AMOUNT_PROFILE, *MERCHANT_FEATURES)
"""Nightly values that a feature set may use as model inputs directly (missing stays missing)."""

NIGHTLY_COUNTS: frozenset[str] = frozenset(
    (
        NUM_TRANS_LAST_1W,
        *(pair[0] for pair in CARD_WINDOWS.values()),
        *(pair[0] for pair in MERCHANT_WINDOWS.values()),
        *MERCHANT_KNOWN_FRAUDS.values(),
        *MERCHANT_KNOWN_FRAUD_CARDS.values(),
    )
)
"""Nightly window counts: as model inputs, 0 is missing (an empty window). The store keeps a count of 0
for a key whose windows just emptied (so it never serves an expired window), where the training set
has NULL: both mean "no history", so both become NaN. For the known-fraud counts 0 ("no fraud known")
and missing carry the same evidence, so they are merged the same way."""

AMT_RATIO_1D = "amt_ratio_1d"
AMT_RATIO_30D = "amt_ratio_30d"
AVG_AMT_RATIO_1W_30D = "avg_amt_ratio_1w_30d"
NIGHTLY_RATIOS: dict[str, tuple[str, str]] = {
    AMT_RATIO_1D: ("amount", AVG_AMT_LAST_1D),
    AMT_RATIO_30D: ("amount", AVG_AMT_LAST_30D),
    AVG_AMT_RATIO_1W_30D: (AVG_AMT_LAST_1W, AVG_AMT_LAST_30D),
}
"""``safe_ratio`` inputs over the card windows: input -> (numerator, denominator). A compromised card
spends several times its usual amount; trees find ``amount / mean`` hard to build from the two
values (test period of the rich profile, 1 M rows: average precision 0.57 -> 0.61 with them)."""

AMT_MAX_RATIO_30D = "amt_max_ratio_30d"
AMT_ZSCORE_30D = "amt_zscore_30d"
CARD_AMOUNT_RATIOS: dict[str, tuple[str, str]] = {AMT_MAX_RATIO_30D: ("amount", MAX_AMT_LAST_30D)}
"""``safe_ratio`` inputs over the card's 30-day amount profile (``CARD_AMOUNT_PROFILE``)."""
CARD_AMOUNT_ZSCORES: dict[str, tuple[str, str]] = {AMT_ZSCORE_30D: (AVG_AMT_LAST_30D, AMT_STD_LAST_30D)}
"""``(amount - mean) / deviation`` inputs: input -> (mean, deviation); missing where either is
missing or the deviation is 0 (``safe_ratio``)."""

MERCHANT_RISK_INPUTS: tuple[str, ...] = (
    *EXTENDED_INPUTS,
    NUM_TRANS_LAST_1D,
    AVG_AMT_LAST_1D,
    NUM_TRANS_LAST_1W,
    AVG_AMT_LAST_1W,
    NUM_TRANS_LAST_30D,
    AVG_AMT_LAST_30D,
    *MERCHANT_WINDOW_FEATURES,
    *NIGHTLY_RATIOS,
)
"""Third feature set: ``extended`` plus the Handbook's card 1/7/30-day and merchant count/risk inputs
and the card-window ratios. The scorer reads them from the card windows and merchant groups (the
record's ``merchant``)."""

MERCHANT_RISK_V2_INPUTS: tuple[str, ...] = (*MERCHANT_RISK_INPUTS, *MERCHANT_KNOWN_FRAUDS.values())
"""Fourth feature set: ``merchant-risk`` plus the merchant's known-fraud counts over 1 / 7 / 30 days
(labels known so far, recent ones included)."""

MERCHANT_RISK_V3_INPUTS: tuple[str, ...] = (
    *MERCHANT_RISK_V2_INPUTS,
    *MERCHANT_KNOWN_FRAUD_CARDS.values(),
    *MERCHANT_EPISODE_FEATURES,
)
"""Fifth feature set: ``merchant-risk-v2`` plus the merchant's distinct cards with known frauds over
7 / 30 days and its episode features (first and last known fraud age, known legitimate labels after
the last known fraud, known-fraud cards defrauded only there); all from the same merchant group item.
Rich profile, 1 M rows, 7-day delay, lr 0.1: test average precision 0.682 (v2 0.657)."""

MERCHANT_RISK_V4_INPUTS: tuple[str, ...] = (
    *MERCHANT_RISK_V3_INPUTS,
    *CARD_AMOUNT_PROFILE,
    *CARD_AMOUNT_RATIOS,
    *CARD_AMOUNT_ZSCORES,
)
"""Sixth feature set: ``merchant-risk-v3`` plus the card's 30-day amount profile (deviation and
maximum), the amount over that maximum and the amount's z-score against the 30-day mean and
deviation; all from the same card windows item."""

FeatureSet = Literal["anchor", "extended", "merchant-risk", "merchant-risk-v2", "merchant-risk-v3", "merchant-risk-v4"]
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "anchor": ANCHOR_INPUTS,
    "extended": EXTENDED_INPUTS,
    "merchant-risk": MERCHANT_RISK_INPUTS,
    "merchant-risk-v2": MERCHANT_RISK_V2_INPUTS,
    "merchant-risk-v3": MERCHANT_RISK_V3_INPUTS,
    "merchant-risk-v4": MERCHANT_RISK_V4_INPUTS,
}
SERVABLE_FEATURE_SETS: tuple[str, ...] = (
    "anchor",
    "extended",
    "merchant-risk",
    "merchant-risk-v2",
    "merchant-risk-v3",
    "merchant-risk-v4",
)
"""Sets the scorer can serve. ``merchant-risk`` is one since the Flink job passes the transaction's
optional ``merchant`` through to ``cc-agg`` (the scorer reads the merchant group by it; a transaction
without one gets missing merchant values, as a training row without one has). ``merchant-risk-v2``
and ``merchant-risk-v3`` read nothing more than the same merchant group's item; ``merchant-risk-v4``
also reads the card windows item's amount profile (``CARD_AMOUNT_PROFILE``)."""


def nightly_names(feature_set: str) -> tuple[str, ...]:
    """The nightly values (``NIGHTLY_INPUTS``) a set needs, as inputs or inside its ratios, beyond the
    1-week pair every set gets: what the scorer must read from the card windows and merchant groups."""
    names = model_input_names(feature_set)
    derived = {**NIGHTLY_RATIOS, **CARD_AMOUNT_RATIOS, **CARD_AMOUNT_ZSCORES}
    needed = [n for name in names for n in (derived.get(name) or (name,))]
    return tuple(n for n in dict.fromkeys(needed) if n in NIGHTLY_INPUTS and n not in BATCH_FEATURES)


def model_input_names(feature_set: str = "anchor") -> tuple[str, ...]:
    """Ordered input names of a feature set; raises ``KeyError`` naming the valid sets."""
    try:
        return FEATURE_SETS[feature_set]
    except KeyError:
        raise KeyError(f"unknown feature set {feature_set!r}; expected one of {sorted(FEATURE_SETS)}") from None


# --------------------------------------------------------------------------------------------
# SQL shared by Flink (streaming) and Spark (batch)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowAggregate:
    """One aggregate over the 10-minute OVER window, as a SQL expression on ``amount``."""

    name: str
    sql: str  # uses {w} where the window name goes
    sql_type: str


STREAM_AGGREGATES: tuple[WindowAggregate, ...] = (
    WindowAggregate(NUM_TRANS_LAST_10M, "COUNT(*) OVER {w}", "BIGINT"),
    WindowAggregate(AVG_AMT_LAST_10M, "CAST(SUM(amount) OVER {w} AS DOUBLE) / COUNT(*) OVER {w}", "DOUBLE"),
    WindowAggregate(MAX_AMT_LAST_10M, "CAST(MAX(amount) OVER {w} AS DOUBLE)", "DOUBLE"),
)


def stream_window_clause(
    partition_col: str = "cc_num", order_col: str = "trans_time", minutes: int = STREAM_WINDOW_MINUTES
) -> str:
    """The OVER window text, valid in both Flink SQL and Spark SQL."""
    return (
        f"(PARTITION BY {partition_col} ORDER BY {order_col} "
        f"RANGE BETWEEN INTERVAL '{minutes}' MINUTE PRECEDING AND CURRENT ROW)"
    )


def stream_aggregate_select_sql(
    source: str, passthrough: Sequence[str] = ("tid", "cc_num", "amount", "trans_time")
) -> str:
    """SELECT that adds the streaming features to every row of ``source``.

    ``source`` must expose ``amount`` as ``AMOUNT_SQL_TYPE`` and ``trans_time`` as a timestamp
    (an event-time attribute in Flink); ``amount`` leaves as DOUBLE. Each aggregate repeats the
    same window inline because Flink requires every OVER aggregate of one SELECT to share one
    identical window, and both engines accept this form.
    """
    window = stream_window_clause()
    cols = [c if c != "amount" else "CAST(amount AS DOUBLE) AS amount" for c in passthrough]
    aggs = [f"{a.sql.format(w=window)} AS {a.name}" for a in STREAM_AGGREGATES]
    return f"SELECT {', '.join(cols + aggs)} FROM {source}"


def batch_aggregate_sql(source: str, as_of_literal: str) -> str:
    """Spark SQL for the nightly 1-week features of every card active in [as_of - 7 d, as_of).

    ``as_of_literal`` is a SQL timestamp literal of a UTC midnight, e.g. ``TIMESTAMP '2020-03-02 00:00:00'``.
    """
    return (
        f"SELECT cc_num, COUNT(*) AS {NUM_TRANS_LAST_1W}, "
        f"CAST(SUM(CAST(amount AS {AMOUNT_SQL_TYPE})) AS DOUBLE) / COUNT(*) AS {AVG_AMT_LAST_1W} "
        f"FROM {source} "
        f"WHERE trans_time >= {as_of_literal} - INTERVAL '{BATCH_WINDOW_DAYS}' DAY "
        f"AND trans_time < {as_of_literal} GROUP BY cc_num"
    )


def _window_start(end: str, days: int) -> str:
    return f"{end} - INTERVAL '{days}' DAY"


def _windows_sql(
    source: str,
    key: str,
    end: str,
    windows: Mapping[int, tuple[str, str]],
    total_of: Callable[[str], str],
    extra: Sequence[str] = (),
) -> str:
    """Per ``key``: for each N-day window [end - N d, end), the row count (NULL when none) and
    ``total_of(inside)`` / that count in DOUBLE, then the ``extra`` columns over the longest window;
    one scan of the longest window."""
    cols = []
    for days, (count_name, share_name) in windows.items():
        inside = f"trans_time >= {_window_start(end, days)}"
        count = f"NULLIF(COUNT(CASE WHEN {inside} THEN 1 END), 0)"
        cols += [f"{count} AS {count_name}", f"CAST({total_of(inside)} AS DOUBLE) / {count} AS {share_name}"]
    cols += extra
    return (
        f"SELECT {key}, {', '.join(cols)} FROM {source} WHERE {key} IS NOT NULL "
        f"AND trans_time >= {_window_start(end, max(windows))} AND trans_time < {end} GROUP BY {key}"
    )


def card_windows_aggregate_sql(source: str, as_of_literal: str) -> str:
    """Spark SQL of one nightly run's card windows (``CARD_WINDOWS``): one row per card active in
    [as_of - 30 d, as_of); a window without transactions is NULL (count and mean), like a card
    without 1-week history. Sums and division as in ``batch_aggregate_sql`` (bit-identical); the
    30-day amount profile (``CARD_AMOUNT_PROFILE``) over the same 30 days."""
    assert max(CARD_WINDOWS) == CARD_AMOUNT_PROFILE_DAYS  # the profile is over the scanned window
    cents = f"CAST(CAST(amount AS {AMOUNT_SQL_TYPE}) * 100 AS DECIMAL(38, 0))"
    spread = f"COUNT(*) * SUM({cents} * {cents}) - SUM({cents}) * SUM({cents})"
    profile = (
        f"SQRT(CAST({spread} AS DOUBLE) / CAST(COUNT(*) * COUNT(*) AS DOUBLE)) / 100.0 AS {AMT_STD_LAST_30D}",
        f"CAST(MAX(CAST(amount AS {AMOUNT_SQL_TYPE})) AS DOUBLE) AS {MAX_AMT_LAST_30D}",
    )
    return _windows_sql(
        source,
        "cc_num",
        as_of_literal,
        CARD_WINDOWS,
        lambda inside: f"SUM(CASE WHEN {inside} THEN CAST(amount AS {AMOUNT_SQL_TYPE}) END)",
        profile,
    )


def merchant_aggregate_sql(source: str, as_of_literal: str, rule: LabelDelayRule = LABEL_DELAY) -> str:
    """Spark SQL of one nightly run's merchant count and risk (``MERCHANT_WINDOWS``) under ``rule``
    and known-fraud counts (``MERCHANT_KNOWN_FRAUDS``): one row per merchant with a transaction in
    [as_of - delay - 30 d, as_of).

    ``source`` needs ``merchant``, ``trans_time``, ``fraud_label`` and ``labelled_at`` (when the
    label became known; NULL = not known). Count over [as_of - delay - N d, as_of - delay); risk =
    frauds among them whose label was known before ``as_of`` / count; both NULL for an empty window.
    Known frauds over [as_of - N d, as_of): 0 when none is known, NULL without transactions there;
    the same for their distinct cards (``MERCHANT_KNOWN_FRAUD_CARDS``, ``source`` needs ``cc_num``);
    the episode features (``MERCHANT_EPISODE_FEATURES``) over the last ``EPISODE_DAYS``, NULL when no
    fraud there is known.
    """
    end = f"{as_of_literal} - INTERVAL '{rule.delay_days}' DAY" if rule.delay_days else as_of_literal
    known = f"fraud_label = 1 AND labelled_at < {as_of_literal}"
    cols = []
    for days, (count_name, risk_name) in MERCHANT_WINDOWS.items():
        inside = f"trans_time >= {_window_start(end, days)} AND trans_time < {end}"
        count = f"NULLIF(COUNT(CASE WHEN {inside} THEN 1 END), 0)"
        frauds = f"SUM(CASE WHEN {inside} AND {known} THEN 1 ELSE 0 END)"
        cols += [f"{count} AS {count_name}", f"CAST({frauds} AS DOUBLE) / {count} AS {risk_name}"]
    for days, name in MERCHANT_KNOWN_FRAUDS.items():
        inside = f"trans_time >= {_window_start(as_of_literal, days)}"
        cols.append(
            f"CASE WHEN COUNT(CASE WHEN {inside} THEN 1 END) > 0 "
            f"THEN SUM(CASE WHEN {inside} AND {known} THEN 1 ELSE 0 END) END AS {name}"
        )
    for days, name in MERCHANT_KNOWN_FRAUD_CARDS.items():
        inside = f"trans_time >= {_window_start(as_of_literal, days)}"
        cols.append(
            f"CASE WHEN COUNT(CASE WHEN {inside} THEN 1 END) > 0 "
            f"THEN COUNT(DISTINCT CASE WHEN {inside} AND {known} THEN cc_num END) END AS {name}"
        )
    episode = f"trans_time >= {_window_start(as_of_literal, EPISODE_DAYS)} AND {known}"
    as_of_day = f"CAST({as_of_literal} AS DATE)"
    cols += [
        f"DATEDIFF({as_of_day}, CAST(MIN(CASE WHEN {episode} THEN trans_time END) AS DATE)) "
        f"AS {MERCHANT_FIRST_KNOWN_FRAUD_AGE}",
        f"DATEDIFF({as_of_day}, CAST(MAX(_last_fraud) AS DATE)) AS {MERCHANT_LAST_KNOWN_FRAUD_AGE}",
        f"CASE WHEN MAX(_last_fraud) IS NOT NULL THEN COUNT(CASE WHEN trans_time > _last_fraud "
        f"AND fraud_label = 0 AND labelled_at < {as_of_literal} THEN 1 END) END AS {MERCHANT_KNOWN_LEGIT_AFTER_FRAUD}",
        f"CASE WHEN MAX(_last_fraud) IS NOT NULL THEN COUNT(DISTINCT CASE WHEN {episode} "
        f"AND _card_first = _card_last THEN cc_num END) END AS {MERCHANT_KNOWN_FRAUD_OWN_CARDS}",
    ]
    first = _window_start(end, max(MERCHANT_WINDOWS))
    card_merchant = f"CASE WHEN {episode} THEN merchant END) OVER (PARTITION BY cc_num)"
    rows = (
        f"SELECT *, MAX(CASE WHEN {episode} THEN trans_time END) OVER (PARTITION BY merchant) AS _last_fraud, "
        f"MIN({card_merchant} AS _card_first, MAX({card_merchant} AS _card_last "
        f"FROM {source} WHERE merchant IS NOT NULL AND trans_time >= {first} AND trans_time < {as_of_literal}"
    )
    return f"SELECT merchant, {', '.join(cols)} FROM ({rows}) GROUP BY merchant"


# --------------------------------------------------------------------------------------------
# Model inputs: one function for the trainer, the batch job and the scorer
# --------------------------------------------------------------------------------------------
def _as_float_array(values: object) -> np.ndarray:
    """Float array with None mapped to NaN (missing)."""
    arr = np.asarray(values, dtype=object if _has_none(values) else None)
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else float(v) for v in arr.ravel()], dtype=float).reshape(arr.shape)
    return arr.astype(float, copy=False)


def _has_none(values: object) -> bool:
    if values is None:
        return True
    if isinstance(values, np.ndarray):
        return values.dtype == object
    if isinstance(values, list | tuple):
        return any(v is None for v in values)
    return False


def _empty_is_missing(counts: np.ndarray) -> np.ndarray:
    """A window count as a model input: 0 (empty window) is missing, like no item (``NIGHTLY_COUNTS``)."""
    return np.where(counts == 0, np.nan, counts)


def safe_ratio(numerator: object, denominator: object) -> np.ndarray:
    """``numerator / denominator``, missing (NaN) where either is missing or the denominator is 0."""
    num = _as_float_array(numerator)
    den = _as_float_array(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((den == 0) | np.isnan(den) | np.isnan(num), np.nan, num / np.where(den == 0, 1.0, den))
    return out


def compute_model_inputs(
    amount: object,
    num_trans_last_10m: object,
    avg_amt_last_10m: object,
    num_trans_last_1w: object,
    avg_amt_last_1w: object,
    max_amt_last_10m: object = None,
    feature_set: str = "anchor",
    nightly: Mapping[str, object] | None = None,
) -> np.ndarray:
    """Model input matrix (rows x inputs of ``feature_set``), NaN where a value is missing.

    Accepts scalars or equal-length sequences. A card with no 1-week history (None/NaN) gets
    missing ratios, which XGBoost treats natively, identically in training and serving.
    ``nightly`` carries the other ``NIGHTLY_INPUTS`` a set uses as they are (card 1/30-day and
    merchant values); a set that needs one that is not given is an error, never a silent NaN.
    """
    names = model_input_names(feature_set)
    amount_a = np.atleast_1d(_as_float_array(amount))
    n = amount_a.shape[0]

    def col(values: object) -> np.ndarray:
        arr = np.atleast_1d(_as_float_array(values))
        return np.broadcast_to(arr, (n,)) if arr.shape[0] == 1 and n != 1 else arr

    num10, avg10, num1w, avg1w = map(col, (num_trans_last_10m, avg_amt_last_10m, num_trans_last_1w, avg_amt_last_1w))
    columns = {
        "amount": amount_a,
        AMT_RATIO1: safe_ratio(avg10, avg1w),
        AMT_RATIO2: safe_ratio(amount_a, avg1w),
        COUNT_RATIO: safe_ratio(num10, num1w),
        NUM_TRANS_LAST_10M: num10,
    }
    if MAX_AMT_RATIO in names:
        max10 = col(np.nan if max_amt_last_10m is None else max_amt_last_10m)
        columns[MAX_AMT_RATIO] = safe_ratio(max10, avg1w)
    columns[NUM_TRANS_LAST_1W], columns[AVG_AMT_LAST_1W] = _empty_is_missing(num1w), avg1w
    wanted = [name for name in nightly_names(feature_set) if name not in columns]
    lacking = [name for name in wanted if nightly is None or name not in nightly]
    if lacking:
        raise ValueError(
            f"feature set {feature_set!r} needs nightly values {lacking} (the card and merchant groups); "
            "pass them as nightly={name: values}"
        )
    for name in wanted:
        values = col(nightly[name])  # type: ignore[index]
        columns[name] = _empty_is_missing(values) if name in NIGHTLY_COUNTS else values
    for name in names:
        if name in NIGHTLY_RATIOS or name in CARD_AMOUNT_RATIOS:
            numerator, denominator = NIGHTLY_RATIOS.get(name) or CARD_AMOUNT_RATIOS[name]
            columns[name] = safe_ratio(columns[numerator], columns[denominator])
        elif name in CARD_AMOUNT_ZSCORES:
            mean, deviation = CARD_AMOUNT_ZSCORES[name]
            columns[name] = safe_ratio(amount_a - columns[mean], columns[deviation])
    return np.column_stack([columns[name] for name in names]).astype(float)


def model_input_row(
    amount: float,
    num_trans_last_10m: int,
    avg_amt_last_10m: float,
    num_trans_last_1w: int | None,
    avg_amt_last_1w: float | None,
    max_amt_last_10m: float | None = None,
    feature_set: str = "anchor",
    nightly: Mapping[str, object] | None = None,
) -> list[float | None]:
    """One transaction's inputs as a list, ``None`` for missing (for JSON and CSV encoders)."""
    row = compute_model_inputs(
        amount,
        num_trans_last_10m,
        avg_amt_last_10m,
        num_trans_last_1w,
        avg_amt_last_1w,
        max_amt_last_10m,
        feature_set,
        nightly,
    )[0]
    return [None if math.isnan(v) else float(v) for v in row]
