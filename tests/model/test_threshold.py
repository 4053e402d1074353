"""Threshold rules on hand-built validation sets: business rules, their margin and their stability."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.model.threshold import (
    bootstrap_stability,
    choose_threshold,
    choose_with_stability,
    parse_rule,
    wilson_lower,
)


def _ranked(labels_by_rank: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Labels in descending score order, with distinct scores 1, 1 - 1/n, ..."""
    y = np.array(labels_by_rank, dtype=np.int8)
    p = 1.0 - np.arange(y.size) / y.size
    return y, p


# 30 frauds, 1 legit, 20 frauds, then 100 legit: 50 of the first 51 are fraud
Y51, P51 = _ranked([1] * 30 + [0] + [1] * 20 + [0] * 100)


def test_wilson_lower_bound_by_hand() -> None:
    # 9 of 10, z = 1.645: (0.9 + z²/20 - z*sqrt(0.009 + z²/400)) / (1 + z²/10) = 0.6523
    assert wilson_lower(np.array([9]), np.array([10]))[0] == pytest.approx(0.6523, abs=1e-4)
    # all successes: n / (n + z²)
    assert wilson_lower(np.array([40]), np.array([40]))[0] == pytest.approx(40 / (40 + 1.645**2))
    assert wilson_lower(np.array([0]), np.array([0]))[0] == 0.0


def test_target_precision_keeps_a_margin_the_point_rule_does_not() -> None:
    point = choose_threshold(Y51, P51, "recall_at_precision:0.9")
    # the point rule flags 4 legit rows more: 50 / 55 = 0.909 >= 0.9
    assert point.threshold == pytest.approx(P51[54]) and point.precision == pytest.approx(50 / 55)
    margin = choose_threshold(Y51, P51, "target_precision:0.9")
    # 50 of 51: Wilson lower bound 0.917 >= 0.9; 50 of 52 already falls to 0.890
    assert margin.threshold == pytest.approx(P51[50])
    assert (margin.precision, margin.recall) == pytest.approx((50 / 51, 1.0))
    assert margin.alerts_per_1000 == pytest.approx(1000 * 51 / Y51.size)
    assert margin.validation_frauds == 50 and margin.warning is None


def test_alert_budget_per_thousand_and_per_day() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.05).astype(np.int8)
    p = rng.permutation(2000) / 2000.0  # distinct scores
    per_1000 = choose_threshold(y, p, "alert_budget:5/1000")
    assert int(np.sum(p >= per_1000.threshold)) == 10 and per_1000.alerts_per_1000 == pytest.approx(5.0)
    per_day = choose_threshold(y, p, "alert_budget:3/day", days=2.0)
    assert int(np.sum(p >= per_day.threshold)) == 6
    assert choose_threshold(y, p, "alert_budget:3", days=2.0).threshold == per_day.threshold
    with pytest.raises(ValueError, match="days"):
        choose_threshold(y, p, "alert_budget:3")


def test_business_rules_refuse_too_few_frauds_and_best_f1_warns() -> None:
    y, p = _ranked([1] * 10 + [0] * 50)
    with pytest.raises(ValueError, match="10 frauds, fewer than 30"):
        choose_threshold(y, p, "target_precision:0.9")
    with pytest.raises(ValueError, match="fewer than 30"):
        choose_threshold(y, p, "alert_budget:10/1000")
    f1 = choose_threshold(y, p, "best_f1")
    assert f1.threshold == pytest.approx(p[9]) and "only 10 validation frauds" in f1.warning


def test_an_unreachable_target_serves_its_closest_with_a_warning_and_bad_rules_are_errors() -> None:
    y, p = _ranked([0, 1] * 40)  # precision never above 0.5; its Wilson lower bound peaks at 40 of 80
    closest = choose_threshold(y, p, "target_precision:0.9")
    assert closest.threshold == pytest.approx(p[-1]) and closest.precision == pytest.approx(0.5)
    assert closest.warning.startswith("no threshold meets 'target_precision:0.9' on validation")
    assert bootstrap_stability(y, p, "target_precision:0.9", closest.threshold, resamples=20)["unmet"] == 20
    for bad in ("target_precision", "target_precision:1.5", "alert_budget:-1", "alert_budget:x/day", "f1"):
        with pytest.raises(ValueError, match="unknown threshold rule"):
            parse_rule(bad)
    assert parse_rule("alert_budget:150/day") == parse_rule("alert_budget:150") == ("alert_budget", 150.0, True)
    assert parse_rule("alert_budget:2/1000") == ("alert_budget", 2.0, False)


def test_bootstrap_spread_is_narrow_when_the_rule_is_stable_and_wide_when_not() -> None:
    # perfectly separated: every resample keeps precision 1 at the chosen threshold
    y, p = _ranked([1] * 60 + [0] * 600)
    stable = bootstrap_stability(y, p, "target_precision:0.9", float(p[59]), resamples=100, seed=1)
    assert stable["precision_at_threshold"] == {"p05": 1.0, "p50": 1.0, "p95": 1.0}
    assert stable["unmet"] == 0 and stable["resamples"] == 100
    # frauds spread through the ranking: best-F1 jumps between distant scores across resamples
    rng = np.random.default_rng(0)
    noisy_y = (rng.random(3000) < 0.03).astype(np.int8)
    noisy_p = np.clip(0.3 * noisy_y + rng.random(3000) * 0.8, 0, 1)
    choice = choose_with_stability(noisy_y, noisy_p, "best_f1", seed=2)
    spread = choice.stability["threshold"]
    assert spread["p05"] <= choice.threshold <= spread["p95"] and spread["width_90"] > 0.01
    # seeded: the same resamples give the same report
    assert choose_with_stability(noisy_y, noisy_p, "best_f1", seed=2).stability == choice.stability
    assert choice.to_report()["value"] == choice.threshold
