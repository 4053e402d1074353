"""The promote decision (pure): a candidate replaces the current model only if it wins on the same rows."""

from __future__ import annotations

import pytest

from fraudstream.model.promotion import NotComparableError, PromotionRule, decide

PERIOD = {"first": "2020-05-01T00:00:00", "last": "2020-05-14T23:59:00", "rows": 1000, "frauds": 20}


def report(pr_auc: float, precision: float, recall: float, threshold: float = 0.8, **changes) -> dict:
    base = {
        "period": PERIOD,
        "rows": 1000,
        "frauds": 20,
        "pr_auc": pr_auc,
        "at_threshold": {"precision": precision, "recall": recall, "threshold": threshold},
    }
    return {**base, **changes}


def test_no_current_model_promotes():
    decision = decide(report(0.5, 0.6, 0.7), None)
    assert decision.promote and decision.current is None


def test_a_better_ranking_that_holds_the_operating_point_wins():
    decision = decide(report(0.71, 0.80, 0.60), report(0.65, 0.81, 0.61))
    assert decision.promote
    assert decision.candidate["pr_auc"] == 0.71 and decision.current["pr_auc"] == 0.65


def test_a_tie_or_a_worse_pr_auc_keeps_the_current_model():
    assert not decide(report(0.65, 0.9, 0.9), report(0.65, 0.5, 0.5)).promote
    kept = decide(report(0.64, 0.9, 0.9), report(0.65, 0.5, 0.5))
    assert not kept.promote and "does not beat" in kept.reason


def test_the_gain_must_exceed_the_rule_margin():
    rule = PromotionRule(min_pr_auc_gain=0.02)
    assert not decide(report(0.665, 0.8, 0.6), report(0.65, 0.8, 0.6), rule).promote
    assert decide(report(0.675, 0.8, 0.6), report(0.65, 0.8, 0.6), rule).promote


@pytest.mark.parametrize(("precision", "recall", "lost"), [(0.80, 0.55, "recall"), (0.70, 0.60, "precision")])
def test_giving_up_recall_or_precision_at_the_threshold_is_not_a_win(precision, recall, lost):
    decision = decide(report(0.80, precision, recall), report(0.65, 0.80, 0.60))
    assert not decision.promote and lost in decision.reason


def test_a_drop_within_the_allowance_still_wins():
    assert decide(report(0.70, 0.79, 0.59), report(0.65, 0.80, 0.60)).promote


def test_reports_on_different_rows_cannot_be_compared():
    other = {**PERIOD, "last": "2020-05-15T23:59:00"}
    with pytest.raises(NotComparableError, match="same test rows"):
        decide(report(0.9, 0.9, 0.9), report(0.5, 0.5, 0.5, period=other))
    with pytest.raises(NotComparableError, match="same test rows"):
        decide(report(0.9, 0.9, 0.9), report(0.5, 0.5, 0.5, rows=999))


def test_a_test_period_without_fraud_decides_nothing():
    with pytest.raises(NotComparableError, match="no fraud"):
        decide(report(0.9, 0.9, 0.9, frauds=0), report(0.5, 0.5, 0.5, frauds=0))
