"""Normal (non-fraud) traffic: the anchor's uniform recipe and the richer per-card profile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudstream.generator.amounts import bucket_amount_cents

HOUR_WEIGHTS = np.array(
    [0.25, 0.15, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.0, 1.0]  # 00-11 UTC
    + [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.9, 0.8, 0.6, 0.4]  # 12-23 UTC
)
"""Relative activity by UTC hour of day in the rich profile (quiet nights)."""
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MIN_CENTS, MAX_CENTS = 1, 999_999


@dataclass(frozen=True)
class NormalRows:
    """Legitimate transactions as column vectors, times ascending.

    Sorting the times alone is enough: card and amount are drawn independently of time, so
    pairing sorted times with them in draw order gives the same distribution as sorting rows.
    """

    times_ms: np.ndarray
    card_idx: np.ndarray
    cents: np.ndarray


@dataclass(frozen=True)
class CardProfiles:
    """Per-card habits for the rich profile: how active the card is and how much it usually spends."""

    activity: np.ndarray  # share of all transactions, sums to 1
    median_cents: np.ndarray
    spread: np.ndarray  # lognormal sigma of the card's amounts

    def amounts(self, rng: np.random.Generator, card_idx: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Amounts in cents in the card's own range (lognormal around its median), times ``scale``."""
        log_amount = np.log(self.median_cents[card_idx] * scale) + self.spread[card_idx] * rng.standard_normal(
            card_idx.size
        )
        return np.clip(np.rint(np.exp(log_amount)), MIN_CENTS, MAX_CENTS).astype(np.int64)


def seed_normal_rows(rng: np.random.Generator, n: int, cards: int, start_ms: int, end_ms: int) -> NormalRows:
    """Anchor recipe: uniform times, uniform card, amount from the fixed buckets."""
    times = np.sort(rng.integers(start_ms, end_ms, size=n))
    card_idx = rng.integers(0, cards, size=n, dtype=np.int32)
    return NormalRows(times, card_idx, bucket_amount_cents(rng, n))


def draw_profiles(rng: np.random.Generator, cards: int) -> CardProfiles:
    """Cards differ in activity (gamma weights) and in typical spend (lognormal median $5-$500)."""
    activity = rng.gamma(shape=1.5, scale=1.0, size=cards)
    median = np.exp(rng.normal(np.log(4_000), 0.9, size=cards)).clip(200, 50_000)
    spread = rng.uniform(0.3, 0.9, size=cards)
    return CardProfiles(activity / activity.sum(), median, spread)


def diurnal_times(rng: np.random.Generator, n: int, start_ms: int, end_ms: int) -> np.ndarray:
    """``n`` times in ``[start, end)`` with hour-of-day density ``HOUR_WEIGHTS`` (rejection sampling)."""
    accept_p = HOUR_WEIGHTS / HOUR_WEIGHTS.max()
    kept: list[np.ndarray] = []
    have = 0
    while have < n:
        want = int((n - have) / accept_p.mean() * 1.05) + 16
        draw = rng.integers(start_ms, end_ms, size=want)
        hour = (draw % DAY_MS) // HOUR_MS
        draw = draw[rng.random(want) < accept_p[hour]]
        kept.append(draw)
        have += draw.size
    return np.concatenate(kept)[:n]


def rich_normal_rows(
    rng: np.random.Generator, n: int, profiles: CardProfiles, start_ms: int, end_ms: int
) -> NormalRows:
    """Rich profile: busy and quiet cards, each spending around its own median, quiet nights."""
    times = np.sort(diurnal_times(rng, n, start_ms, end_ms))
    card_idx = np.searchsorted(np.cumsum(profiles.activity), rng.random(n), side="right")
    card_idx = card_idx.clip(0, profiles.activity.size - 1).astype(np.int32)
    return NormalRows(times, card_idx, profiles.amounts(rng, card_idx))
