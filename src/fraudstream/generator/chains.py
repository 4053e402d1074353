"""Attack chains: how many, how long (3-10 rows), where in time and the gaps between their members."""

from __future__ import annotations

import numpy as np

from fraudstream.generator.config import MAX_CHAIN, MIN_CHAIN

SECOND_MS = 1000
CHAIN_GAP_MS = (30 * SECOND_MS, 120 * SECOND_MS)
"""The anchor's attack rhythm: each member 30-120 s after the previous one (inclusive)."""


def chain_lengths(rng: np.random.Generator, total: int) -> np.ndarray:
    """Lengths in [3, 10] that sum to exactly ``total`` (``total`` is 0 or at least 3)."""
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    if total < MIN_CHAIN:
        raise ValueError(f"{total} fraud rows cannot form a chain of at least {MIN_CHAIN}")
    draws = rng.integers(MIN_CHAIN, MAX_CHAIN, size=total // MIN_CHAIN + 2, endpoint=True)
    cumulative = np.cumsum(draws)
    last = int(np.searchsorted(cumulative, total, side="left"))
    lengths = draws[: last + 1].copy()
    lengths[-1] -= int(cumulative[last]) - total
    short = int(lengths[-1])
    if short < MIN_CHAIN:  # 1-2 rows left over: fold them into chains with room, else borrow to make a third
        lengths = lengths[:-1]
        if int((MAX_CHAIN - lengths).sum()) >= short:
            for _ in range(short):
                lengths[int(np.argmin(lengths))] += 1
        else:  # every other chain is (nearly) full, so each can spare rows
            for _ in range(MIN_CHAIN - short):
                lengths[int(np.argmax(lengths))] -= 1
            lengths = np.append(lengths, MIN_CHAIN)
    return lengths


def chain_offsets(gaps_ms: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Time of each member relative to its chain's first one, given per-row gaps (first gap ignored)."""
    starts = np.cumsum(lengths) - lengths
    gaps = gaps_ms.astype(np.int64, copy=True)
    gaps[starts] = 0
    running = np.cumsum(gaps)
    return running - np.repeat(running[starts], lengths)


def place_chains(
    rng: np.random.Generator, lengths: np.ndarray, offsets_ms: np.ndarray, start_ms: int, end_ms: int
) -> np.ndarray:
    """Absolute times: each chain starts uniformly so that its last member is still before ``end_ms``."""
    ends = np.cumsum(lengths) - 1
    durations = offsets_ms[ends]
    room = np.maximum(end_ms - start_ms - durations, 1)
    first = start_ms + (rng.random(lengths.size) * room).astype(np.int64)
    return np.repeat(first, lengths) + offsets_ms


def uniform_gaps(rng: np.random.Generator, n: int, low_ms: int, high_ms: int) -> np.ndarray:
    """``n`` gaps uniform in ``[low, high]`` milliseconds."""
    return rng.integers(low_ms, high_ms, size=n, endpoint=True)
