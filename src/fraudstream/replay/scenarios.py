"""The built-in scenario library: the seed article's attack, three other attack shapes, and ordinary
traffic with and without an amount drift (:mod:`fraudstream.replay.drift_scenarios`).

Decision (documented in the README): scenario cards are *dedicated* cards, not cards of the
generated data. Each run gets fresh 16-digit numbers, and the runner seeds ``cc-agg-batch-fg``
with the 1-week history the scenario states, so the ratios are defined and nothing else (live
traffic, a previous run) can put a transaction into the attacked card's 10-minute window.

The stated weekly values are typical of the default data (seed recipe: 5.4 M transactions over
10,000 cards and 152 days is ~25 transactions per card-week; the amount buckets give a mean of
~$717 with a heavy tail, so weekly card averages mostly fall between $400 and $900).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate

from fraudstream.features import STREAM_WINDOW
from fraudstream.replay.drift_scenarios import amount_drift, shoppers
from fraudstream.replay.scenario_file import Scenario, ScenarioCard, ScenarioTransaction


def seed_article() -> Scenario:
    """Three cards with one ordinary transaction each, then ten back-to-back transactions on a fourth card.

    The article's closing test: the first three are NOT FRAUD, the ten on the fourth card are an
    attack 1-2 s apart. The first amounts of the attack are the article's own card ...1248 chain.
    """
    ordinary = [("shopper-1", 10.15, 0.0), ("shopper-2", 32.45, 2.0), ("shopper-3", 3.12, 4.0)]
    attack_amounts = [1.01, 22.55, 90.55, 60.75, 249.00, 18.20, 499.99, 75.30, 940.00, 12.99]
    gaps = [0.0, 1.5, 1.0, 2.0, 1.2, 1.8, 1.0, 1.6, 2.0, 1.3]  # 1-2 s apart
    attack_start = 8.0
    txs = [ScenarioTransaction(card=c, amount=a, at=t, note="ordinary purchase") for c, a, t in ordinary]
    txs += [
        ScenarioTransaction(card="victim", amount=a, at=attack_start + t, is_fraud=True, note=f"attack #{i + 1}")
        for i, (a, t) in enumerate(zip(attack_amounts, accumulate(gaps), strict=True))
    ]
    return Scenario(
        name="seed-article",
        description="The seed article's test: one ordinary transaction on each of three cards, then an attack of "
        "ten back-to-back transactions 1-2 s apart on a fourth card.",
        cards=[
            ScenarioCard(alias="shopper-1", num_trans_last_1w=25, avg_amt_last_1w=612.40),
            ScenarioCard(alias="shopper-2", num_trans_last_1w=22, avg_amt_last_1w=845.10),
            ScenarioCard(alias="shopper-3", num_trans_last_1w=27, avg_amt_last_1w=498.75),
            ScenarioCard(alias="victim", num_trans_last_1w=24, avg_amt_last_1w=701.30),
        ],
        transactions=txs,
    )


def card_testing() -> Scenario:
    """Tiny probes to check that a stolen card works, then large purchases once it does."""
    probes = [(0.0, 0.50), (12.0, 1.00), (27.0, 0.99)]
    large = [(55.0, 1899.00), (80.0, 2450.00), (101.0, 4999.99)]
    txs = [ScenarioTransaction(card="bystander", amount=54.20, at=5.0, note="ordinary purchase")]
    txs += [ScenarioTransaction(card="tested", amount=a, at=t, is_fraud=True, note="probe") for t, a in probes]
    txs += [ScenarioTransaction(card="tested", amount=a, at=t, is_fraud=True, note="large purchase") for t, a in large]
    return Scenario(
        name="card-testing",
        description="Card testing: three probes under $1 a few seconds apart, then three purchases of $1,900-$5,000.",
        cards=[
            ScenarioCard(alias="tested", num_trans_last_1w=21, avg_amt_last_1w=388.60),
            ScenarioCard(alias="bystander", num_trans_last_1w=26, avg_amt_last_1w=655.00),
        ],
        transactions=txs,
    )


def burst() -> Scenario:
    """Eight purchases in five seconds on a quiet card, next to two cards shopping normally."""
    burst_times = [0.0, 0.6, 1.1, 1.9, 2.4, 3.2, 4.1, 4.9]
    burst_amounts = [120.00, 87.35, 310.00, 45.99, 199.99, 64.10, 520.00, 99.00]
    txs = [
        ScenarioTransaction(card="regular-1", amount=23.80, at=0.0, note="ordinary purchase"),
        ScenarioTransaction(card="regular-2", amount=412.00, at=3.0, note="ordinary purchase"),
    ]
    txs += [
        ScenarioTransaction(card="quiet", amount=a, at=10.0 + t, is_fraud=True, note=f"burst #{i + 1}")
        for i, (t, a) in enumerate(zip(burst_times, burst_amounts, strict=True))
    ]
    return Scenario(
        name="burst",
        description="A burst: eight purchases within five seconds on a card that makes about one a day.",
        cards=[
            ScenarioCard(alias="quiet", num_trans_last_1w=7, avg_amt_last_1w=240.00),
            ScenarioCard(alias="regular-1", num_trans_last_1w=25, avg_amt_last_1w=590.00),
            ScenarioCard(alias="regular-2", num_trans_last_1w=30, avg_amt_last_1w=810.00),
        ],
        transactions=txs,
    )


def slow_drip() -> Scenario:
    """Five fraudulent purchases eleven minutes apart: each is alone in its 10-minute window.

    This shows the blind spot of 10-minute features: every count is 1, so the scorer sees ordinary
    traffic. It runs for 44 minutes of event time; replay it with ``--at`` (sent at once) rather
    than in real time.
    """
    gap = STREAM_WINDOW.total_seconds() + 60.0
    amounts = [84.50, 132.00, 99.95, 148.20, 76.40]
    txs = [
        ScenarioTransaction(card="dripped", amount=a, at=i * gap, is_fraud=True, note=f"drip #{i + 1}")
        for i, a in enumerate(amounts)
    ]
    txs.append(ScenarioTransaction(card="neighbour", amount=61.00, at=gap / 2, note="ordinary purchase"))
    return Scenario(
        name="slow-drip",
        description="A slow drip: five purchases eleven minutes apart, under the 10-minute window's radar.",
        cards=[
            ScenarioCard(alias="dripped", num_trans_last_1w=24, avg_amt_last_1w=540.00),
            ScenarioCard(alias="neighbour", num_trans_last_1w=25, avg_amt_last_1w=700.00),
        ],
        transactions=txs,
    )


BUILTIN_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "seed-article": seed_article,
    "card-testing": card_testing,
    "burst": burst,
    "slow-drip": slow_drip,
    "shoppers": shoppers,
    "amount-drift": amount_drift,
}


def builtin_scenario(name: str) -> Scenario:
    """A built-in scenario by name; ``KeyError`` names the valid ones."""
    try:
        return BUILTIN_SCENARIOS[name]()
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; built-in scenarios: {', '.join(BUILTIN_SCENARIOS)}") from None


def expected_window_counts(scenario: Scenario) -> list[int]:
    """Per transaction (in time order), how many of its card's scenario transactions fall in ``[t - 10 min, t]``.

    What an exact, lag-free 10-minute aggregation must report for a card with no other traffic:
    the runner compares it with the count the scorer actually saw.
    """
    window = STREAM_WINDOW.total_seconds()
    by_card: dict[str, list[float]] = {}
    for tx in scenario.transactions:
        by_card.setdefault(tx.card, []).append(tx.at)  # per card: a 1,500-card scenario is not 1,500² pairs
    return [sum(1 for at in by_card[tx.card] if tx.at - window <= at <= tx.at) for tx in scenario.transactions]
