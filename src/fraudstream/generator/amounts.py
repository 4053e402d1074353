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
    """``n`` amounts in cents (int64): bucket chosen by share, uniform cents inside the bucket.

    One uniform draw serves both choices: its bucket picks the range and its position inside
    the bucket's share (itself uniform) picks the amount.
    """
    shares = np.array([b[0] for b in AMOUNT_BUCKETS])
    upper = np.cumsum(shares)
    upper[-1] = 1.0
    lower = upper - shares
    low = np.array([round(b[1] * 100) for b in AMOUNT_BUCKETS], dtype=np.int64)
    width = np.array([round(b[2] * 100) for b in AMOUNT_BUCKETS], dtype=np.int64) - low
    u = rng.random(n)
    bucket = np.searchsorted(upper, u, side="right").clip(0, len(shares) - 1)
    within = ((u - lower[bucket]) / shares[bucket]).clip(0.0, np.nextafter(1.0, 0.0))
    return low[bucket] + (within * width[bucket]).astype(np.int64)


def cents_in_range(rng: np.random.Generator, n: int, low_dollars: float, high_dollars: float) -> np.ndarray:
    """``n`` uniform amounts in cents within ``[low, high)`` dollars."""
    return rng.integers(round(low_dollars * 100), round(high_dollars * 100), size=n)
