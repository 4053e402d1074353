"""Merchants and where cards shop (rich profile), after the Fraud-Detection-Handbook's simulator.

Merchants and card holders live on a 100 x 100 grid (uniform positions). A card shops at the
merchants within ``radius`` of its home, each equally likely; a card with none in reach shops at
its nearest merchant. Chain attacks (stolen card details used anywhere) pick any merchant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudstream.generator.config import GRID

MERCHANT_ID_DIGITS = 6


@dataclass(frozen=True)
class Geography:
    """Positions and each card's reachable merchants as a CSR list (``near[offsets[c]:offsets[c+1]]``)."""

    card_xy: np.ndarray  # (cards, 2)
    merchant_xy: np.ndarray  # (merchants, 2)
    offsets: np.ndarray  # (cards + 1,) int64
    near: np.ndarray  # merchant indices, int32, ascending within a card
    radius: float

    @property
    def merchants(self) -> int:
        return int(self.merchant_xy.shape[0])

    def reachable(self, card: int) -> np.ndarray:
        """Merchant indices card ``card`` shops at."""
        return self.near[self.offsets[card] : self.offsets[card + 1]]

    def pick(self, rng: np.random.Generator, card_idx: np.ndarray) -> np.ndarray:
        """One merchant per row, uniform among the row's card's reachable merchants."""
        start = self.offsets[card_idx]
        count = self.offsets[card_idx + 1] - start
        return self.near[start + (rng.random(card_idx.size) * count).astype(np.int64)]


def draw_geography(rng: np.random.Generator, cards: int, merchants: int, radius: float) -> Geography:
    """Uniform homes and merchants on the grid; reachable merchants per card within ``radius``.

    Merchants are sorted by x once, so each card measures only those in its vertical strip
    (about 2 x radius / 100 of them) instead of all of them.
    """
    card_xy = rng.uniform(0.0, GRID, size=(cards, 2))
    merchant_xy = rng.uniform(0.0, GRID, size=(merchants, 2))
    by_x = np.argsort(merchant_xy[:, 0], kind="stable")
    xs = merchant_xy[by_x, 0]
    lows = np.searchsorted(xs, card_xy[:, 0] - radius, side="left")
    highs = np.searchsorted(xs, card_xy[:, 0] + radius, side="right")
    parts: list[np.ndarray] = []
    for card, (lo, hi) in enumerate(zip(lows.tolist(), highs.tolist(), strict=True)):
        strip = by_x[lo:hi]
        d2 = ((merchant_xy[strip] - card_xy[card]) ** 2).sum(axis=1)
        near = np.sort(strip[d2 <= radius * radius])
        if near.size == 0:  # nearest merchant as a fallback
            near = np.array([((merchant_xy - card_xy[card]) ** 2).sum(axis=1).argmin()])
        parts.append(near.astype(np.int32))
    counts = np.array([p.size for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Geography(card_xy, merchant_xy, offsets, np.concatenate(parts), radius)


def merchant_ids(count: int) -> np.ndarray:
    """Ids ``m-000000`` .. as a fixed-width bytes array (index i is ``m-{i:06d}``)."""
    digits = np.char.zfill(np.arange(count).astype(f"S{MERCHANT_ID_DIGITS}"), MERCHANT_ID_DIGITS)
    return np.char.add(b"m-", digits)
