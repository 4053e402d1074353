"""Compromise attacks on synthetic rows: exact budgets, whole merchant windows, card amounts x5."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.generator.compromise import (
    CARD_COMPROMISE_DAYS,
    CARD_COMPROMISE_FACTOR,
    MERCHANT_COMPROMISE_DAYS,
    compromise,
)
from fraudstream.generator.profiles import DAY_MS, MAX_CENTS

DAYS = 60
MERCHANT, CARD = 4, 5  # kind indices passed through to the result


def rows(n: int = 30_000, cards: int = 100, merchants: int = 50, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "times_ms": np.sort(rng.integers(0, DAYS * DAY_MS, size=n)),
        "card_idx": rng.integers(0, cards, size=n).astype(np.int32),
        "merchant_idx": rng.integers(0, merchants, size=n).astype(np.int32),
        "cents": rng.integers(100, 10_000, size=n),
    }


def run(data: dict[str, np.ndarray], budgets: tuple[int, int], seed: int = 2):
    return compromise(
        np.random.default_rng(seed), **data, budgets=budgets, kinds=(MERCHANT, CARD), period=(0, DAYS * DAY_MS)
    )


@pytest.mark.parametrize("budgets", [(1, 1), (700, 300), (2_000, 0), (0, 450)])
def test_budgets_are_met_exactly(budgets: tuple[int, int]) -> None:
    hit = run(rows(), budgets)
    assert (hit.kind == MERCHANT).sum() == budgets[0]
    assert (hit.kind == CARD).sum() == budgets[1]
    assert ((hit.attack >= 0) == (hit.kind >= 0)).all()


def test_every_row_at_a_compromised_merchant_in_its_window_is_fraud() -> None:
    data = rows()
    hit = run(data, (2_000, 500))
    windows = hit.merchants
    assert windows.count > 1
    assert (windows.start_ms % DAY_MS == 0).all()  # compromised at the start of a day
    assert (windows.end_ms - windows.start_ms <= MERCHANT_COMPROMISE_DAYS * DAY_MS).all()
    for i, (target, lo, hi) in enumerate(zip(windows.target, windows.start_ms, windows.end_ms, strict=True)):
        inside = (data["merchant_idx"] == target) & (data["times_ms"] >= lo) & (data["times_ms"] < hi)
        assert inside.any()
        assert (hit.kind[inside] == MERCHANT).all(), i  # merchant windows are drawn first: nothing else there
    merchant_rows = hit.kind == MERCHANT
    assert (hit.cents[merchant_rows] == data["cents"][merchant_rows]).all()  # a skimmer does not change amounts


def test_card_compromise_takes_a_third_of_the_window_at_five_times_the_amount() -> None:
    data = rows()
    hit = run(data, (0, 600))
    card_rows = hit.kind == CARD
    assert (hit.cents[card_rows] == np.minimum(data["cents"][card_rows] * CARD_COMPROMISE_FACTOR, MAX_CENTS)).all()
    assert (hit.cents[~card_rows] == data["cents"][~card_rows]).all()
    windows = hit.cards
    assert (windows.end_ms - windows.start_ms <= CARD_COMPROMISE_DAYS * DAY_MS).all()
    for i, (target, lo, hi) in enumerate(zip(windows.target, windows.start_ms, windows.end_ms, strict=True)):
        inside = (data["card_idx"] == target) & (data["times_ms"] >= lo) & (data["times_ms"] < hi)
        fraud = hit.attack == i
        free = inside & ~((hit.attack >= 0) & (hit.attack < i))  # not taken by an earlier window
        assert (data["card_idx"][fraud] == target).all() and (fraud <= inside).all()
        if i < windows.count - 1:  # the last window may be cut short to meet the budget
            assert fraud.sum() == free.sum() // 3


def test_an_unreachable_budget_is_an_error() -> None:
    with pytest.raises(ValueError, match="lower the fraud ratio"):
        run(rows(n=300), (0, 200))  # 3 rows a card in 60 days: a 14-day window rarely holds the 3 a third needs


def test_same_seed_same_compromises() -> None:
    data = rows()
    first, second = run(data, (500, 200)), run(data, (500, 200))
    assert (first.attack == second.attack).all() and (first.cents == second.cents).all()
    assert not (run(data, (500, 200), seed=3).attack == first.attack).all()
