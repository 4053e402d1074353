"""pytest fixtures: small generated transaction files for tests that need realistic traffic with fraud.

``small_transactions_path`` is one session-scoped Parquet file (300 cards, 80,000 transactions over
2020-01-01..2020-02-15, 1% fraud in ~115 attack chains): big enough to train a model and to
compute week-long features, small enough to generate in about a second.
Use ``make_transactions_file`` for a custom one.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

SMALL_DATA = {
    "cards": 300,
    "transactions": 80_000,
    "start": "2020-01-01",
    "end": "2020-02-15",
    "fraud_ratio": 0.01,
    "seed": 7,
    "profile": "seed",
}
"""Parameters of ``small_transactions_path`` (import them to reason about the file's contents)."""


def make_transactions_file(
    path: str | Path,
    *,
    cards: int = 300,
    transactions: int = 80_000,
    start: date | datetime | str = "2020-01-01",
    end: date | datetime | str = "2020-02-15",
    fraud_ratio: float = 0.01,
    seed: int = 7,
    profile: str = "seed",
) -> Path:
    """Generate and write a transactions file (Parquet, or CSV for ``*.csv``); returns its path."""
    from fraudstream.generator import GeneratorConfig, generate_table, write_transactions

    config = GeneratorConfig(
        cards=cards,
        transactions=transactions,
        start=start,
        end=end,
        fraud_ratio=fraud_ratio,
        seed=seed,
        profile=profile,  # type: ignore[arg-type]
    )
    return write_transactions(generate_table(config), path)


@pytest.fixture(scope="session")
def small_transactions_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated Parquet file shared by the whole session (see ``SMALL_DATA``)."""
    folder = tmp_path_factory.mktemp("small-transactions")
    return make_transactions_file(folder / "transactions.parquet", **SMALL_DATA)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def small_transactions(small_transactions_path: Path) -> pd.DataFrame:
    """The rows of ``small_transactions_path`` as a DataFrame (treat as read-only)."""
    from fraudstream.generator import read_transactions

    return read_transactions(small_transactions_path)
