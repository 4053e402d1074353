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
from collections.abc import Sequence
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

FeatureSet = Literal["anchor", "extended"]
FEATURE_SETS: dict[str, tuple[str, ...]] = {"anchor": ANCHOR_INPUTS, "extended": EXTENDED_INPUTS}


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
) -> np.ndarray:
    """Model input matrix (rows x inputs of ``feature_set``), NaN where a value is missing.

    Accepts scalars or equal-length sequences. A card with no 1-week history (None/NaN) gets
    missing ratios, which XGBoost treats natively, identically in training and serving.
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
    return np.column_stack([columns[name] for name in names]).astype(float)


def model_input_row(
    amount: float,
    num_trans_last_10m: int,
    avg_amt_last_10m: float,
    num_trans_last_1w: int | None,
    avg_amt_last_1w: float | None,
    max_amt_last_10m: float | None = None,
    feature_set: str = "anchor",
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
    )[0]
    return [None if math.isnan(v) else float(v) for v in row]
