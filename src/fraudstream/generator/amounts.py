"""Transaction amounts in cents, drawn from the anchor's buckets (5 / 7.5 / 52.5 / 25 / 10 %)."""

from __future__ import annotations

import numpy as np

AMOUNT_BUCKETS: tuple[tuple[float, float, float], ...] = (
    # (share, low dollars inclusive, high dollars exclusive)
    (0.05, 0.01, 1.0),
    (0.075, 1.0, 10.0),
    (0.525, 10.0, 100.0),
    (0.25, 100.0, 1000.0),
    (0.10, 1000.0, 10000.0),
)
"""The anchor's amount distribution: a bucket by share, then a uniform amount in cents within it."""


def bucket_amount_cents(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` amounts in cents (int64): bucket chosen by share, uniform cents inside the bucket."""
    shares = np.array([b[0] for b in AMOUNT_BUCKETS])
    low = np.array([round(b[1] * 100) for b in AMOUNT_BUCKETS], dtype=np.int64)
    high = np.array([round(b[2] * 100) for b in AMOUNT_BUCKETS], dtype=np.int64)
    bucket = np.searchsorted(np.cumsum(shares), rng.random(n), side="right").clip(0, len(shares) - 1)
    return rng.integers(low[bucket], high[bucket])


def cents_in_range(rng: np.random.Generator, n: int, low_dollars: float, high_dollars: float) -> np.ndarray:
    """``n`` uniform amounts in cents within ``[low, high)`` dollars."""
    return rng.integers(round(low_dollars * 100), round(high_dollars * 100), size=n)
