"""Transaction ids: 16 hex characters that look random yet are unique by construction.

Each id is a bijective 64-bit mix (the splitmix64 finaliser) of ``key + row``, so distinct rows
can never collide and no sort or duplicate check is needed; ``key`` comes from the seeded rng.
"""

from __future__ import annotations

import numpy as np

TID_WIDTH = 16
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def unique_tids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct ids (dtype ``S16``, lowercase hex), in row order."""
    key = rng.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64, endpoint=True)
    return hex_strings(mix64(np.arange(n, dtype=np.uint64) + key))


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on uint64 (xor-shifts and odd multipliers are invertible)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
    return z


def hex_strings(values: np.ndarray) -> np.ndarray:
    """Big-endian hex of uint64 values, fixed width (``S16``)."""
    raw = values.astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(raw, dtype=f"S{TID_WIDTH}")
