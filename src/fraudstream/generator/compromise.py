"""Compromise attacks (rich profile), the Handbook's scenarios 2 and 3, on the legitimate rows.

- merchant compromise: a merchant is compromised at the start of a day for the next 28 days;
  every transaction there in that window is fraud (a skimmer or a breach: each card that pays
  there is defrauded).
- card compromise: a card is compromised at the start of a day for the next 14 days; a third of
  its transactions in that window (chosen at random) are fraud, at five times their amount.

Unlike chains, these relabel existing rows rather than add rows. Compromises are drawn (target
and start day uniform) until their rows reach the budget exactly: the last window of each kind
is cut short at the row that meets it (as if the breach was found and blocked then), and its
``end_ms`` says so. A row already fraud is left as it is. A budget the rows cannot meet (too
high a fraud ratio for the data) is an error, never a silent shortfall.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fraudstream.generator.profiles import DAY_MS, MAX_CENTS

MERCHANT_COMPROMISE_DAYS = 28
CARD_COMPROMISE_DAYS = 14
CARD_COMPROMISE_SHARE = 1 / 3
"""Share of a compromised card's transactions in its window that are fraud."""
CARD_COMPROMISE_FACTOR = 5
"""Those transactions are at this many times the amount the card would have spent."""
_CANDIDATES = 256  # compromises drawn at a time
_MAX_IDLE = 20_000  # consecutive compromises that add no row: the budget cannot be met; stop


@dataclass(frozen=True)
class Windows:
    """Compromise windows that produced fraud, in draw order; ``start_ms`` is a day boundary."""

    target: np.ndarray  # merchant or card index
    start_ms: np.ndarray
    end_ms: np.ndarray  # exclusive; clipped to the generated period

    @property
    def count(self) -> int:
        return int(self.target.size)


@dataclass(frozen=True)
class Compromised:
    """Per legitimate row: the compromise that made it fraud (-1: none) and its amount."""

    attack: np.ndarray  # int32, numbered 0.. across both kinds (merchant windows first)
    kind: np.ndarray  # int8: the kind index given to ``compromise``, -1 for none
    cents: np.ndarray
    merchants: Windows
    cards: Windows


def compromise(
    rng: np.random.Generator,
    times_ms: np.ndarray,
    card_idx: np.ndarray,
    merchant_idx: np.ndarray,
    cents: np.ndarray,
    budgets: tuple[int, int],
    kinds: tuple[int, int],
    period: tuple[int, int],
) -> Compromised:
    """Mark about ``budgets`` = (merchant, card) rows as fraud; ``kinds`` are their attack-kind indices."""
    attack = np.full(times_ms.size, -1, dtype=np.int32)
    kind = np.full(times_ms.size, -1, dtype=np.int8)
    cents = cents.copy()
    n_merchants = int(merchant_idx.max()) + 1 if merchant_idx.size else 0
    merchants = _draw(rng, merchant_idx, n_merchants, times_ms, period, MERCHANT_COMPROMISE_DAYS, budgets[0], attack)
    for i, rows in enumerate(merchants[1]):
        attack[rows] = i
        kind[rows] = kinds[0]

    def third(rows: np.ndarray) -> np.ndarray:
        size = int(rows.size * CARD_COMPROMISE_SHARE)
        return np.sort(rng.choice(rows, size=size, replace=False)) if size else rows[:0]

    first = merchants[0].count
    n_cards = int(card_idx.max()) + 1 if card_idx.size else 0
    cards = _draw(rng, card_idx, n_cards, times_ms, period, CARD_COMPROMISE_DAYS, budgets[1], attack, third)
    for i, rows in enumerate(cards[1]):
        attack[rows] = first + i
        kind[rows] = kinds[1]
        cents[rows] = np.minimum(cents[rows] * CARD_COMPROMISE_FACTOR, MAX_CENTS)
    return Compromised(attack, kind, cents, merchants[0], cards[0])


def _draw(
    rng: np.random.Generator,
    group: np.ndarray,
    n_groups: int,
    times_ms: np.ndarray,
    period: tuple[int, int],
    days: int,
    budget: int,
    taken: np.ndarray,
    choose: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[Windows, list[np.ndarray]]:
    """Draw (target, start day) windows until their fraud rows are exactly ``budget``.

    ``taken`` (attack per row, -1 = free) is updated as rows are claimed, so windows never share
    a row. ``choose`` picks the fraud rows among a window's free rows (default: all of them).
    The last window keeps only its earliest rows that fit, and ends just after the last of them.
    """
    targets: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    claimed: list[np.ndarray] = []
    if budget <= 0 or n_groups == 0:
        return _windows(targets, starts, ends), claimed
    start_ms, end_ms = period
    span = end_ms - start_ms
    n_days = -(-span // DAY_MS)
    order = _grouped(group, n_groups)  # grouped by target, times ascending within (rows are time-sorted)
    key = group[order].astype(np.int64) * span + (times_ms[order] - start_ms)
    marked = idle = 0
    while marked < budget and idle < _MAX_IDLE:
        target = rng.integers(0, n_groups, size=_CANDIDATES)
        low = start_ms + rng.integers(0, n_days, size=_CANDIDATES) * DAY_MS
        high = np.minimum(low + days * DAY_MS, end_ms)
        first = np.searchsorted(key, target * span + (low - start_ms))
        last = np.searchsorted(key, target * span + (high - start_ms))
        for t, lo, hi, a, b in zip(target, low, high, first, last, strict=True):
            rows = order[a:b]
            rows = rows[taken[rows] < 0]
            if choose is not None:
                rows = choose(rows)
            if rows.size == 0:
                idle += 1
                continue
            idle = 0
            if marked + rows.size > budget:  # the breach is found: the window ends early
                rows = rows[: budget - marked]
                hi = times_ms[rows[-1]] + 1
            taken[rows] = len(claimed)  # provisional, so that later windows skip these rows
            targets.append(int(t))
            starts.append(int(lo))
            ends.append(int(hi))
            claimed.append(rows)
            marked += rows.size
            if marked >= budget:
                break
    if marked < budget:
        raise ValueError(
            f"could mark only {marked:,} of {budget:,} rows as {days}-day compromise fraud; "
            "lower the fraud ratio or that attack's share"
        )
    return _windows(targets, starts, ends), claimed


def _grouped(group: np.ndarray, n_groups: int) -> np.ndarray:
    """Row order by group, stable; as 16-bit keys when they fit, which numpy radix-sorts (5x faster)."""
    keys = group.astype(np.uint16) if n_groups <= 2**16 else group
    return np.argsort(keys, kind="stable")


def _windows(targets: list[int], starts: list[int], ends: list[int]) -> Windows:
    return Windows(np.array(targets, dtype=np.int64), np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64))
