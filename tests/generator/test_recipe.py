"""The seed recipe: counts, cards, ids, time range, amount buckets and attack chains."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fraudstream.generator import COLUMNS, GeneratorConfig, generate
from fraudstream.generator.amounts import AMOUNT_BUCKETS

CONFIG = GeneratorConfig(transactions=400_000)  # 10,000 cards, default dates and fraud ratio


@pytest.fixture(scope="module")
def seed_df() -> pd.DataFrame:
    return generate(CONFIG)


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number[::-1]]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def test_columns_and_row_count(seed_df: pd.DataFrame) -> None:
    assert tuple(seed_df.columns) == COLUMNS
    assert len(seed_df) == CONFIG.transactions
    assert str(seed_df["trans_time"].dtype) == "datetime64[ms, UTC]"


def test_ten_thousand_distinct_sixteen_digit_visa_cards(seed_df: pd.DataFrame) -> None:
    cards = seed_df["cc_num"].unique()
    assert len(cards) == 10_000
    assert all(len(c) == 16 and c.isdigit() and c.startswith("4") for c in cards)
    assert all(luhn_valid(c) for c in cards[:500])


def test_tids_are_unique_hex(seed_df: pd.DataFrame) -> None:
    assert seed_df["tid"].is_unique
    assert seed_df["tid"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_times_sorted_within_range_and_uniform(seed_df: pd.DataFrame) -> None:
    times = seed_df["trans_time"]
    assert times.is_monotonic_increasing
    assert times.min() >= pd.Timestamp(CONFIG.start) and times.max() < pd.Timestamp(CONFIG.end)
    midpoint = pd.Timestamp(CONFIG.start) + (pd.Timestamp(CONFIG.end) - pd.Timestamp(CONFIG.start)) / 2
    assert abs((times < midpoint).mean() - 0.5) < 0.01


def test_amount_buckets_within_tolerance(seed_df: pd.DataFrame) -> None:
    amounts = seed_df["amount"].to_numpy()
    cents = amounts * 100
    assert np.allclose(cents, np.rint(cents))
    for share, low, high in AMOUNT_BUCKETS:
        observed = ((amounts >= low) & (amounts < high)).mean()
        assert abs(observed - share) < 0.005, (low, high, observed)
    assert amounts.min() >= 0.01 and amounts.max() < 10_000


def test_fraud_share_is_exactly_the_requested_ratio(seed_df: pd.DataFrame) -> None:
    assert seed_df["fraud_label"].sum() == round(CONFIG.transactions * CONFIG.fraud_ratio) == 1_000
    fraud = seed_df["fraud_label"] == 1
    assert (seed_df["attack_id"].notna() == fraud).all()
    assert (seed_df["attack_kind"].notna() == fraud).all()
    assert set(seed_df.loc[fraud, "attack_kind"]) == {"chain"}


def test_default_config_gives_13500_fraud_rows() -> None:
    assert GeneratorConfig().fraud_rows == 13_500


def test_chains_are_3_to_10_on_one_card_30_to_120_s_apart(seed_df: pd.DataFrame) -> None:
    fraud = seed_df[seed_df["fraud_label"] == 1]
    chains = fraud.groupby("attack_id")
    assert chains["cc_num"].nunique().eq(1).all()
    sizes = chains.size()
    assert sizes.between(3, 10).all()
    assert sizes.nunique() > 5  # lengths actually vary
    gaps = chains["trans_time"].diff().dropna().dt.total_seconds()
    assert gaps.between(30, 120).all()
    assert gaps.min() < 40 and gaps.max() > 110
    starts = chains["trans_time"].min()
    assert starts.is_monotonic_increasing  # attack ids follow time


def test_seed_changes_the_data() -> None:
    small = {"cards": 50, "transactions": 2_000, "fraud_ratio": 0.01}
    a = generate(GeneratorConfig(seed=1, **small))
    b = generate(GeneratorConfig(seed=2, **small))
    assert not a["tid"].equals(b["tid"])
    assert set(a["cc_num"]) != set(b["cc_num"])


def test_naive_and_string_dates_mean_utc() -> None:
    cfg = GeneratorConfig(start="2020-03-01", end=datetime(2020, 3, 2), transactions=10, fraud_ratio=0)
    assert cfg.start == datetime(2020, 3, 1, tzinfo=UTC) and cfg.end == datetime(2020, 3, 2, tzinfo=UTC)
    df = generate(cfg)
    assert df["fraud_label"].sum() == 0 and df["attack_id"].isna().all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": "2019-12-31"}, "must be after start"),
        ({"fraud_ratio": 1.5}, "fraud ratio"),
        ({"transactions": 100, "fraud_ratio": 0.01}, "an attack needs at least 3"),
        ({"cards": 0}, "cards"),
        ({"profile": "fancy"}, "profile"),
    ],
)
def test_bad_config_is_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**changes)  # type: ignore[arg-type]
