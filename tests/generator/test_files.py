"""Files: same seed gives the same bytes (Parquet and CSV); files read back to the same rows."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from fraudstream.generator import GeneratorConfig, generate, generate_table, read_transactions, write_transactions

SMALL = GeneratorConfig(cards=200, transactions=20_000, fraud_ratio=0.01, seed=5)


@pytest.mark.parametrize("name", ["tx.parquet", "tx.csv"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, name: str) -> None:
    first = write_transactions(generate_table(SMALL), tmp_path / "a" / name)
    second = write_transactions(generate(SMALL), tmp_path / "b" / name)  # via pandas: same bytes
    assert filecmp.cmp(first, second, shallow=False)
    other = write_transactions(generate_table(GeneratorConfig(**{**SMALL.__dict__, "seed": 6})), tmp_path / name)
    assert not filecmp.cmp(first, other, shallow=False)


def test_parquet_carries_no_volatile_metadata(tmp_path: Path) -> None:
    path = write_transactions(generate_table(SMALL), tmp_path / "tx.parquet")
    meta = pq.read_metadata(path)
    assert b"pandas" not in (meta.metadata or {})


@pytest.mark.parametrize("name", ["tx.parquet", "tx.csv"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    df = generate(SMALL)
    back = read_transactions(write_transactions(df, tmp_path / name))
    pd.testing.assert_frame_equal(back, df)


def test_csv_time_is_iso_with_millis_and_z(tmp_path: Path) -> None:
    path = write_transactions(generate_table(SMALL), tmp_path / "tx.csv")
    header, first = path.read_text().splitlines()[:2]
    assert header.startswith('"tid","trans_time","cc_num","amount","fraud_label"')
    time_field = first.split(",")[1].strip('"')
    assert len(time_field) == 24 and time_field.endswith("Z") and time_field[19] == "."


def test_missing_file_and_missing_columns_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no transactions file"):
        read_transactions(tmp_path / "nope.parquet")
    with pytest.raises(ValueError, match="lacks columns"):
        write_transactions(pd.DataFrame({"tid": ["a"]}), tmp_path / "bad.parquet")
