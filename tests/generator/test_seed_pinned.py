"""The seed profile is frozen: the same seed gives the bytes the anchor's code gave (before issue 15).

The hashes were taken with the generator as it was before merchants, compromises and label delay
were added (commit d7ce46d). CSV is pinned (its bytes depend only on the rows, not the Parquet
writer's version string); Parquet equality with CSV's rows is covered by the round-trip tests.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fraudstream.generator import COLUMNS, GeneratorConfig, generate_table, write_transactions

PINNED_CSV_SHA256 = {
    123: "004d68b058dfd54fcdf6305f9878c75af2c36e86cf27199521d3b34da077f1d7",
    7: "5f170ce7c46f9b5f1ed62137b4e09f52ca045a4d691754b467d567b0935edafd",
}


@pytest.mark.parametrize("seed", sorted(PINNED_CSV_SHA256))
def test_seed_profile_bytes_are_unchanged(tmp_path: Path, seed: int) -> None:
    config = GeneratorConfig(cards=200, transactions=20_000, end="2020-02-01", fraud_ratio=0.01, seed=seed)
    table = generate_table(config)
    assert tuple(table.column_names) == COLUMNS  # no merchant, no labelled_at
    path = write_transactions(table, tmp_path / "seed.csv")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PINNED_CSV_SHA256[seed]
