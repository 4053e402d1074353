"""Chain arithmetic: lengths that sum exactly, offsets from gaps, placement inside the range."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.generator.chains import chain_lengths, chain_offsets, place_chains
from fraudstream.generator.tids import hex_strings, mix64, unique_tids


@pytest.mark.parametrize("total", [*range(3, 40), 97, 1000, 13_500])
def test_chain_lengths_sum_exactly_and_stay_in_range(total: int) -> None:
    for seed in range(50):
        lengths = chain_lengths(np.random.default_rng(seed), total)
        assert lengths.sum() == total
        assert lengths.min() >= 3 and lengths.max() <= 10


def test_no_fraud_means_no_chains_and_too_little_is_an_error() -> None:
    assert chain_lengths(np.random.default_rng(0), 0).size == 0
    with pytest.raises(ValueError):
        chain_lengths(np.random.default_rng(0), 2)


def test_offsets_restart_at_each_chain() -> None:
    lengths = np.array([3, 2])
    gaps = np.array([99, 10, 20, 99, 5])
    assert chain_offsets(gaps, lengths).tolist() == [0, 10, 30, 0, 5]


def test_placed_chains_end_before_range_end() -> None:
    rng = np.random.default_rng(3)
    lengths = np.full(500, 10)
    offsets = chain_offsets(np.full(5000, 120_000), lengths)
    times = place_chains(rng, lengths, offsets, 0, 2_000_000)
    assert times.min() >= 0 and times.max() < 2_000_000


def test_tid_mix_is_a_bijection_so_ids_never_collide() -> None:
    rows = np.arange(2_000_000, dtype=np.uint64)
    mixed = mix64(rows + np.uint64(2**64 - 1_000_000))  # wraps around 2**64 on purpose
    assert np.unique(mixed).size == rows.size
    tids = unique_tids(np.random.default_rng(1), 1000)
    assert len(set(tids.tolist())) == 1000
    assert not np.array_equal(tids, unique_tids(np.random.default_rng(2), 1000))
    assert hex_strings(np.array([255, 2**62], dtype=np.uint64)).tolist() == [b"00000000000000ff", b"4000000000000000"]
