"""The ``generate`` and ``schemas`` commands."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from fraudstream.cli.main import app
from fraudstream.generator import read_transactions

runner = CliRunner()


def test_generate_writes_the_requested_file(tmp_path: Path) -> None:
    out = tmp_path / "tx.csv"
    args = ["generate", "--out", str(out), "--cards", "50", "--transactions", "3000", "--end", "2020-01-08"]
    result = runner.invoke(app, [*args, "--fraud-ratio", "0.01", "--seed", "9", "--profile", "rich"])
    assert result.exit_code == 0, result.output
    df = read_transactions(out)
    # --fraud-ratio is the share of ALL rows, every attack kind included (rich: 60% merchant compromise,
    # 20% card compromise, 20% chains by default): 1% of 3,000 rows is 30 fraud rows, exactly.
    assert len(df) == 3000 and df["fraud_label"].sum() == 30 and df["cc_num"].nunique() == 50
    assert df["trans_time"].max() < pd.Timestamp("2020-01-08", tz="UTC")
    assert df["merchant"].notna().all() and (df["labelled_at"] > df["trans_time"]).all()
    assert "30 fraud: 18 merchant_compromise, 6 card_compromise" in " ".join(result.output.split())


def test_generate_rich_options_shape_the_data(tmp_path: Path) -> None:
    out = tmp_path / "tx.parquet"
    args = ["generate", "--out", str(out), "--cards", "40", "--transactions", "4000", "--end", "2020-02-01"]
    options = ["--merchants", "120", "--merchant-compromise-share", "1", "--card-compromise-share", "0"]
    delays = ["--fraud-label-delay", "2", "3", "--legit-label-delay", "10"]
    result = runner.invoke(app, [*args, "--fraud-ratio", "0.02", "--profile", "rich", *options, *delays])
    assert result.exit_code == 0, result.output
    df = read_transactions(out)
    assert set(df["attack_kind"].dropna()) == {"merchant_compromise"} and df["fraud_label"].sum() == 80
    assert df["merchant"].nunique() <= 120
    delay = (df["labelled_at"] - df["trans_time"]).dt.total_seconds() / 86_400
    assert delay[df["fraud_label"] == 1].between(2, 3).all() and (delay[df["fraud_label"] == 0] == 10).all()


def test_generate_refuses_a_compromise_budget_it_cannot_meet(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path / "x.csv"), "--cards", "10", "--transactions", "30", "--profile", "rich"]
    shares = ["--merchant-compromise-share", "0", "--card-compromise-share", "1"]
    result = runner.invoke(app, [*args, "--fraud-ratio", "0.5", *shares])  # 3 rows a card in 5 months: no third
    assert result.exit_code != 0
    assert "lower the fraud ratio" in result.output


def test_generate_rejects_a_bad_range(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "x.parquet"), "--end", "2019-01-01"])
    assert result.exit_code != 0
    assert "must be after start" in result.output


def test_schemas_check_and_export(tmp_path: Path) -> None:
    assert runner.invoke(app, ["schemas", "--check"]).exit_code == 0
    assert runner.invoke(app, ["schemas", "--check", "--out", str(tmp_path)]).exit_code == 1
    assert runner.invoke(app, ["schemas", "--out", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["schemas", "--check", "--out", str(tmp_path)]).exit_code == 0
