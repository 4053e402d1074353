"""Transaction ids: unique random 64-bit values rendered as 16 hex characters, built without Python loops."""

from __future__ import annotations

import numpy as np

TID_WIDTH = 16


def unique_tids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct ids (dtype ``S16``, lowercase hex); duplicates are redrawn deterministically."""
    values = rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64, endpoint=True)
    while True:
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        dup = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
        if dup.size == 0:
            break
        values[order[dup]] = rng.integers(0, np.iinfo(np.int64).max, size=dup.size, dtype=np.int64, endpoint=True)
    return hex_strings(values)


def hex_strings(values: np.ndarray) -> np.ndarray:
    """Big-endian hex of non-negative int64 values, fixed width (``S16``)."""
    raw = values.astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(raw, dtype=f"S{TID_WIDTH}")
