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
_CARDS_PER_CHUNK = 512  # distance matrix rows at a time: 512 x merchants floats, never cards x merchants


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
    """Uniform homes and merchants on the grid; reachable merchants per card within ``radius``."""
    card_xy = rng.uniform(0.0, GRID, size=(cards, 2))
    merchant_xy = rng.uniform(0.0, GRID, size=(merchants, 2))
    counts = np.empty(cards, dtype=np.int64)
    parts: list[np.ndarray] = []
    for lo in range(0, cards, _CARDS_PER_CHUNK):
        hi = min(cards, lo + _CARDS_PER_CHUNK)
        d2 = ((card_xy[lo:hi, None, :] - merchant_xy[None, :, :]) ** 2).sum(axis=2)
        inside = d2 <= radius * radius
        lonely = ~inside.any(axis=1)
        inside[np.flatnonzero(lonely), d2[lonely].argmin(axis=1)] = True  # nearest merchant as a fallback
        rows, cols = np.nonzero(inside)
        counts[lo:hi] = np.bincount(rows, minlength=hi - lo)
        parts.append(cols.astype(np.int32))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Geography(card_xy, merchant_xy, offsets, np.concatenate(parts), radius)


def merchant_ids(count: int) -> np.ndarray:
    """Ids ``m-000000`` .. as a fixed-width bytes array (index i is ``m-{i:06d}``)."""
    digits = np.char.zfill(np.arange(count).astype(f"S{MERCHANT_ID_DIGITS}"), MERCHANT_ID_DIGITS)
    return np.char.add(b"m-", digits)
