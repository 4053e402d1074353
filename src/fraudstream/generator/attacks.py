"""Fraud injection: attack chains on one card each, every member labelled 1.

The seed profile has one kind (``chain``: the anchor's 3-10 transactions, 30-120 s apart, amounts
from the usual buckets). The rich profile adds card testing (tiny probes, then large amounts),
bursts (seconds apart, well above the card's usual spend) and slow drips (minutes apart, amounts
that look normal), the cases a 10-minute window finds easy, easy and hard respectively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudstream.generator.amounts import bucket_amount_cents
from fraudstream.generator.chains import CHAIN_GAP_MS, SECOND_MS, chain_lengths, chain_offsets, place_chains
from fraudstream.generator.profiles import CardProfiles

CHAIN_KINDS: tuple[str, ...] = ("chain", "card_testing", "burst", "slow_drip")
"""Attacks that add chains of 3-10 rows on one card."""
COMPROMISE_KINDS: tuple[str, ...] = ("merchant_compromise", "card_compromise")
"""Attacks that turn legitimate rows into fraud (``fraudstream.generator.compromise``)."""
ATTACK_KINDS: tuple[str, ...] = CHAIN_KINDS + COMPROMISE_KINDS
"""``attack_kind`` values; the seed profile only produces ``chain``."""

RICH_KIND_SHARES = np.array([0.4, 0.2, 0.2, 0.2])
"""Share of chain attacks of each kind in the rich profile (same order as ``CHAIN_KINDS``)."""

KIND_GAP_MS = np.array(
    [
        CHAIN_GAP_MS,  # chain
        CHAIN_GAP_MS,  # card_testing
        (2 * SECOND_MS, 20 * SECOND_MS),  # burst
        (5 * 60 * SECOND_MS, 20 * 60 * SECOND_MS),  # slow_drip
    ],
    dtype=np.int64,
)
"""Inclusive gap range between consecutive members, by kind."""

PROBE_CENTS = (1, 100)  # card-testing probes: $0.01-$0.99
CASH_OUT_CENTS = (50_000, 500_000)  # then $500-$5,000


@dataclass(frozen=True)
class FraudRows:
    """Fraud transactions as column vectors; ``chain`` numbers each row's attack (0..k-1, by start time)."""

    times_ms: np.ndarray
    card_idx: np.ndarray
    cents: np.ndarray
    chain: np.ndarray
    kind: np.ndarray  # index into ATTACK_KINDS, per row

    @property
    def count(self) -> int:
        return int(self.times_ms.size)


def seed_attacks(rng: np.random.Generator, total: int, cards: int, start_ms: int, end_ms: int) -> FraudRows:
    """The anchor's attacks: chains of 3-10, 30-120 s apart, random card, bucket amounts."""
    lengths = chain_lengths(rng, total)
    gaps = rng.integers(CHAIN_GAP_MS[0], CHAIN_GAP_MS[1], size=total, endpoint=True)
    times = place_chains(rng, lengths, chain_offsets(gaps, lengths), start_ms, end_ms)
    chain_cards = rng.integers(0, cards, size=lengths.size, dtype=np.int32)
    kinds = np.zeros(lengths.size, dtype=np.int8)
    return _ordered(times, lengths, chain_cards, bucket_amount_cents(rng, total), kinds)


def rich_attacks(rng: np.random.Generator, total: int, profiles: CardProfiles, start_ms: int, end_ms: int) -> FraudRows:
    """Mixed chain kinds; amounts relative to the victim card's own habits."""
    lengths = chain_lengths(rng, total)
    chain_kinds = np.searchsorted(np.cumsum(RICH_KIND_SHARES), rng.random(lengths.size), side="right")
    chain_kinds = chain_kinds.clip(0, len(CHAIN_KINDS) - 1).astype(np.int8)
    row_kind = np.repeat(chain_kinds, lengths)
    low, high = KIND_GAP_MS[row_kind, 0], KIND_GAP_MS[row_kind, 1]
    gaps = low + (rng.random(total) * (high - low + 1)).astype(np.int64)
    times = place_chains(rng, lengths, chain_offsets(gaps, lengths), start_ms, end_ms)
    chain_cards = rng.integers(0, profiles.activity.size, size=lengths.size, dtype=np.int32)
    row_card = np.repeat(chain_cards, lengths)
    position = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)

    cents = bucket_amount_cents(rng, total)  # "chain" keeps the anchor's buckets
    probes = np.repeat(rng.integers(1, 4, size=lengths.size), lengths).clip(max=np.repeat(lengths, lengths) - 1)
    testing = row_kind == ATTACK_KINDS.index("card_testing")
    is_probe = testing & (position < probes)
    cents[is_probe] = rng.integers(*PROBE_CENTS, size=int(is_probe.sum()))
    cash_out = testing & ~is_probe
    cents[cash_out] = rng.integers(*CASH_OUT_CENTS, size=int(cash_out.sum()))
    burst = row_kind == ATTACK_KINDS.index("burst")
    cents[burst] = profiles.amounts(rng, row_card[burst], rng.uniform(3.0, 10.0, size=int(burst.sum())))
    drip = row_kind == ATTACK_KINDS.index("slow_drip")
    cents[drip] = profiles.amounts(rng, row_card[drip], rng.uniform(0.8, 1.5, size=int(drip.sum())))
    return _ordered(times, lengths, chain_cards, cents, chain_kinds)


def _ordered(
    times: np.ndarray, lengths: np.ndarray, chain_cards: np.ndarray, cents: np.ndarray, chain_kinds: np.ndarray
) -> FraudRows:
    """Renumber chains by start time so that ``attack_id`` grows with time."""
    starts = np.cumsum(lengths) - lengths
    order = np.argsort(times[starts], kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return FraudRows(
        times_ms=times,
        card_idx=np.repeat(chain_cards, lengths),
        cents=cents,
        chain=np.repeat(rank, lengths).astype(np.int32),
        kind=np.repeat(chain_kinds, lengths).astype(np.int8),
    )
