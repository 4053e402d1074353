"""Built-in traffic for the monitor's drift panel: ordinary shoppers, and the same shoppers spending ten times
their 1-week average.

Why two scenarios of one shape: PSI compares the inputs of recent served rows with their training
distribution, so a drift shows only against traffic that looks like the training data. ``shoppers``
is that traffic (the generator's own amount buckets, a Poisson week of history per card) and should
leave every input below the drift threshold; ``amount-drift`` keeps the same cards and histories and
changes only the amounts, so the amount-dependent inputs (``amount``, ``amt_ratio1``, ``amt_ratio2``,
``max_amt_ratio``) drift and the count inputs (``count_ratio``, ``num_trans_last_10m``) do not.

Each card makes one purchase (its 10-minute count is 1, as for almost every training row). The
monitor's PSI reads the latest 5,000 rows of the last hour, and a tenfold share of a fifth of them
already crosses 0.2; 1,500 transactions keep the drift visible after the demo's live traffic.
Nothing is labelled fraud: the report's false positives say what the model makes of the change.
"""

from __future__ import annotations

import numpy as np

from fraudstream.generator.amounts import bucket_amount_cents
from fraudstream.replay.scenario_file import Scenario, ScenarioCard, ScenarioTransaction

SHOPPERS = 1_500
SPAN_S = 60.0
"""The transactions are spread evenly over a minute (25 a second in real time)."""
TYPICAL_WEEK = 25.0
"""Transactions per card-week of the default data (the seed recipe: 5.4 M over 10,000 cards and 152
days). A model trained on denser data sees other count ratios: pass its rate as ``per_week``."""
DRIFT_FACTOR = 10.0
SEED = 14


def _cards(cards: int, per_week: float, rng: np.random.Generator) -> list[ScenarioCard]:
    """Cards with a week of history as the nightly job would store it: a Poisson count of bucket amounts."""
    counts = np.maximum(rng.poisson(per_week, cards), 1)
    return [
        ScenarioCard(
            alias=f"shopper-{i + 1:04d}",
            num_trans_last_1w=int(n),
            avg_amt_last_1w=max(round(float(bucket_amount_cents(rng, int(n)).mean()) / 100.0, 2), 0.01),
        )
        for i, n in enumerate(counts)
    ]


def _traffic(name: str, description: str, cards: list[ScenarioCard], amounts: list[float], note: str) -> Scenario:
    gap = SPAN_S / len(cards)
    transactions = [
        ScenarioTransaction(card=card.alias, amount=amount, at=round(i * gap, 3), note=note)
        for i, (card, amount) in enumerate(zip(cards, amounts, strict=True))
    ]
    return Scenario(name=name, description=description, cards=cards, transactions=transactions)


def shoppers(cards: int = SHOPPERS, per_week: float = TYPICAL_WEEK, seed: int = SEED) -> Scenario:
    """``cards`` ordinary purchases, one per card, amounts from the generator's buckets: no input should drift."""
    rng = np.random.default_rng(seed)
    week = _cards(cards, per_week, rng)
    amounts = [max(float(c) / 100.0, 0.01) for c in bucket_amount_cents(rng, cards)]
    return _traffic(
        "shoppers",
        f"Ordinary traffic: {cards:,} cards with a typical week of history make one purchase each within a "
        "minute (the baseline for amount-drift; no input should drift).",
        week,
        amounts,
        "ordinary purchase",
    )


def amount_drift(
    cards: int = SHOPPERS, per_week: float = TYPICAL_WEEK, seed: int = SEED, factor: float = DRIFT_FACTOR
) -> Scenario:
    """The cards of ``shoppers`` (same seed: same histories), each paying ``factor`` times its 1-week average."""
    week = _cards(cards, per_week, np.random.default_rng(seed))
    amounts = [round(factor * (card.avg_amt_last_1w or 0.0), 2) for card in week]
    return _traffic(
        "amount-drift",
        f"Drift: the {cards:,} shoppers, each paying {factor:g} times its 1-week average, none of it fraud "
        "(the monitor flags the amount inputs, PSI > 0.2, not the counts).",
        week,
        amounts,
        f"{factor:g} x the 1-week average",
    )
