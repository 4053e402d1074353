"""The rich profile: every attack kind present, each with its shape; card habits differ."""

from __future__ import annotations

import pandas as pd
import pytest

from fraudstream.generator import ATTACK_KINDS, GeneratorConfig, generate

RICH = GeneratorConfig(cards=1_000, transactions=200_000, fraud_ratio=0.01, profile="rich", seed=11)


@pytest.fixture(scope="module")
def rich_df() -> pd.DataFrame:
    return generate(RICH)


def chains_of(df: pd.DataFrame, kind: str) -> pd.core.groupby.DataFrameGroupBy:
    return df[df["attack_kind"] == kind].groupby("attack_id")


def test_all_attack_kinds_present_and_fraud_share_exact(rich_df: pd.DataFrame) -> None:
    assert set(rich_df["attack_kind"].dropna()) == set(ATTACK_KINDS)
    assert rich_df["fraud_label"].sum() == 2_000
    assert len(rich_df) == RICH.transactions and rich_df["tid"].is_unique
    assert rich_df["trans_time"].is_monotonic_increasing


def test_every_chain_is_3_to_10_on_one_card(rich_df: pd.DataFrame) -> None:
    chains = rich_df[rich_df["fraud_label"] == 1].groupby("attack_id")
    assert chains.size().between(3, 10).all()
    assert chains["cc_num"].nunique().eq(1).all()


def test_card_testing_probes_small_then_cashes_out(rich_df: pd.DataFrame) -> None:
    for _, chain in chains_of(rich_df, "card_testing"):
        amounts = chain["amount"].tolist()
        probes = [a for a in amounts if a < 1]
        assert 1 <= len(probes) <= 3
        assert amounts[: len(probes)] == probes
        assert all(a >= 500 for a in amounts[len(probes) :])


@pytest.mark.parametrize(("kind", "low_s", "high_s"), [("chain", 30, 120), ("card_testing", 30, 120), ("burst", 2, 20)])
def test_gaps_by_kind(rich_df: pd.DataFrame, kind: str, low_s: float, high_s: float) -> None:
    gaps = chains_of(rich_df, kind)["trans_time"].diff().dropna().dt.total_seconds()
    assert gaps.between(low_s, high_s).all()


def test_slow_drips_are_minutes_apart(rich_df: pd.DataFrame) -> None:
    gaps = chains_of(rich_df, "slow_drip")["trans_time"].diff().dropna().dt.total_seconds()
    assert gaps.between(5 * 60, 20 * 60).all()


def test_cards_have_different_habits(rich_df: pd.DataFrame) -> None:
    normal = rich_df[rich_df["fraud_label"] == 0]
    per_card = normal.groupby("cc_num")["amount"].median()
    counts = normal.groupby("cc_num").size()
    assert per_card.quantile(0.9) > 3 * per_card.quantile(0.1)
    assert counts.quantile(0.9) > 2 * counts.quantile(0.1)
    night = normal["trans_time"].dt.hour.between(1, 4).mean()
    assert night < 4 / 24 * 0.5  # quiet nights
