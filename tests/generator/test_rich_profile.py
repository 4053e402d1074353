"""The rich profile: every attack kind present, each with its shape; card habits and shops differ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudstream.generator import ATTACK_KINDS, GeneratorConfig, generate
from fraudstream.generator.attacks import CHAIN_KINDS
from fraudstream.generator.cards import card_numbers
from fraudstream.generator.recipe import geography_of

RICH = GeneratorConfig(cards=1_000, transactions=200_000, fraud_ratio=0.01, profile="rich", seed=11)


@pytest.fixture(scope="module")
def rich_df() -> pd.DataFrame:
    return generate(RICH)


def chains_of(df: pd.DataFrame, kind: str) -> pd.core.groupby.DataFrameGroupBy:
    return df[df["attack_kind"] == kind].groupby("attack_id")


def test_all_attack_kinds_present_and_fraud_share_exact(rich_df: pd.DataFrame) -> None:
    assert set(rich_df["attack_kind"].dropna()) == set(ATTACK_KINDS)
    assert rich_df["fraud_label"].sum() == 2_000
    by_kind = rich_df["attack_kind"].value_counts()
    assert by_kind["merchant_compromise"] == 1_200 and by_kind["card_compromise"] == 400  # 60% and 20%
    assert by_kind[list(CHAIN_KINDS)].sum() == 400
    assert len(rich_df) == RICH.transactions and rich_df["tid"].is_unique
    assert rich_df["trans_time"].is_monotonic_increasing


def test_every_chain_is_3_to_10_on_one_card(rich_df: pd.DataFrame) -> None:
    chains = rich_df[rich_df["attack_kind"].isin(CHAIN_KINDS)].groupby("attack_id")
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


def test_every_row_has_a_merchant_and_attack_ids_are_one_kind_each(rich_df: pd.DataFrame) -> None:
    assert rich_df["merchant"].notna().all() and rich_df["merchant"].str.fullmatch(r"m-\d{6}").all()
    fraud = rich_df[rich_df["fraud_label"] == 1]
    assert fraud.groupby("attack_id")["attack_kind"].nunique().eq(1).all()


def test_cards_shop_near_home_and_return(rich_df: pd.DataFrame) -> None:
    geography = geography_of(RICH)
    numbers = card_numbers(RICH.cards, RICH.seed).astype(str)
    normal = rich_df[rich_df["fraud_label"] == 0]
    for card in range(0, RICH.cards, 20):
        home = geography.card_xy[card]
        shops = normal.loc[normal["cc_num"] == numbers[card], "merchant"].str[2:].astype(int).to_numpy()
        distance = np.sqrt(((geography.merchant_xy - home) ** 2).sum(axis=1))
        reach = max(RICH.merchant_radius, distance.min())  # a card with no shop in reach uses its nearest
        assert (distance[shops] <= reach).all(), card
    visits = normal.groupby(["cc_num", "merchant"]).size()
    assert visits.mean() > 2  # habits: a card goes back to the same few shops
    assert normal.groupby("cc_num")["merchant"].nunique().median() < RICH.merchants / 50


def test_merchant_compromise_makes_every_row_there_fraud(rich_df: pd.DataFrame) -> None:
    attacks = rich_df[rich_df["attack_kind"] == "merchant_compromise"].groupby("attack_id")
    assert attacks["cc_num"].nunique().max() > 1  # many cards defrauded at one place
    span = attacks.agg(first=("trans_time", "min"), last=("trans_time", "max"), merchant=("merchant", "first"))
    assert (attacks["merchant"].nunique() == 1).all()
    assert (span["last"] - span["first"].dt.floor("D") < pd.Timedelta(days=28)).all()
    there = rich_df[["merchant", "trans_time", "fraud_label"]].merge(span, on="merchant")
    inside = there["trans_time"].between(there["first"].dt.floor("D"), there["last"])  # from the start of the day
    assert inside.sum() >= len(span) and (there.loc[inside, "fraud_label"] == 1).all()


def test_card_compromise_spends_about_five_times_the_usual(rich_df: pd.DataFrame) -> None:
    hit = rich_df[rich_df["attack_kind"] == "card_compromise"]
    usual = rich_df[rich_df["fraud_label"] == 0].groupby("cc_num")["amount"].median()
    ratio = (hit.groupby("cc_num")["amount"].median() / usual.reindex(hit["cc_num"].unique())).median()
    assert 3 < ratio < 8


def test_labels_arrive_days_later(rich_df: pd.DataFrame) -> None:
    delay = (rich_df["labelled_at"] - rich_df["trans_time"]).dt.total_seconds() / 86_400
    fraud = rich_df["fraud_label"] == 1
    low, high = RICH.fraud_label_delay_days
    assert delay[fraud].between(low, high).all() and delay[fraud].std() > 1
    assert (delay[~fraud] == RICH.legit_label_delay_days).all()


def test_a_configured_label_delay_is_used() -> None:
    config = GeneratorConfig(
        cards=50, transactions=5_000, fraud_ratio=0.01, profile="rich", fraud_label_delay_days=(3, 4),
        legit_label_delay_days=30, merchants=200,
    )  # fmt: skip
    df = generate(config)
    delay = (df["labelled_at"] - df["trans_time"]).dt.total_seconds() / 86_400
    assert delay[df["fraud_label"] == 1].between(3, 4).all() and (delay[df["fraud_label"] == 0] == 30).all()
