"""Metric and threshold definitions on hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream.model.dataset import chain_positions
from fraudstream.model.evaluation import evaluate, recall_by_chain_position
from fraudstream.model.metrics import average_precision, confusion, precision_recall_curve, roc_auc, scores_at
from fraudstream.model.threshold import choose_threshold

Y = np.array([1, 0, 1, 0])
P = np.array([0.9, 0.8, 0.7, 0.1])


def test_average_precision_is_the_stepwise_sum() -> None:
    # recall steps 0.5 at precision 1, then 0.5 at precision 2/3
    assert average_precision(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_average_precision_of_a_perfect_and_a_constant_ranking() -> None:
    assert average_precision(Y, np.array([0.9, 0.1, 0.8, 0.2])) == pytest.approx(1.0)
    assert average_precision(Y, np.full(4, 0.3)) == pytest.approx(Y.mean())


def test_roc_auc_counts_ordered_pairs_and_half_ties() -> None:
    assert roc_auc(Y, P) == pytest.approx(3 / 4)
    assert roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert np.isnan(roc_auc(np.zeros(3), np.arange(3.0)))


def test_precision_recall_curve_groups_equal_scores() -> None:
    precision, recall, thresholds = precision_recall_curve([1, 0, 1], [0.5, 0.5, 0.2])
    assert thresholds.tolist() == [0.5, 0.2]
    assert precision.tolist() == pytest.approx([0.5, 2 / 3])
    assert recall.tolist() == pytest.approx([0.5, 1.0])


def test_confusion_and_scores_flag_at_or_above_the_threshold() -> None:
    assert confusion(Y, P, 0.8) == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    s = scores_at(Y, P, 0.7)
    assert (s["precision"], s["recall"]) == pytest.approx((2 / 3, 1.0))
    assert s["f1"] == pytest.approx(0.8)


def test_best_f1_threshold_and_precision_rule() -> None:
    best = choose_threshold(Y, P, "best_f1")
    assert best.threshold == pytest.approx(0.7) and best.f1 == pytest.approx(0.8)
    strict = choose_threshold(Y, P, "recall_at_precision:0.9")
    assert strict.threshold == pytest.approx(0.9) and strict.precision == 1.0
    with pytest.raises(ValueError, match="unknown threshold rule"):
        choose_threshold(Y, P, "magic")
    with pytest.raises(ValueError, match="positive"):
        choose_threshold(np.zeros(4), P)


def test_chain_positions_follow_time_within_each_attack() -> None:
    frame = pd.DataFrame(
        {
            "attack_id": ["b", None, "a", "b", "a", "a"],
            "trans_time": pd.to_datetime(
                [
                    "2020-01-01 00:05",
                    "2020-01-01 00:00",
                    "2020-01-01 00:03",
                    "2020-01-01 00:01",
                    "2020-01-01 00:01",
                    "2020-01-01 00:09",
                ]
            ),
        }
    )
    assert chain_positions(frame).tolist() == [2, 0, 2, 1, 1, 3]


def test_recall_by_chain_position_and_full_report() -> None:
    positions = np.array([1, 2, 3, 1, 2, 0, 0])
    y = np.array([1, 1, 1, 1, 1, 0, 0])
    p = np.array([0.1, 0.6, 0.9, 0.2, 0.4, 0.05, 0.7])
    rows = recall_by_chain_position(positions, y, p, threshold=0.5)
    assert [(r["position"], r["frauds"], r["flagged"]) for r in rows] == [(1, 2, 0), (2, 2, 1), (3, 1, 1)]
    report = evaluate(y, p, positions, threshold=0.3)
    for key in ("pr_auc", "roc_auc", "at_threshold", "at_0_5", "recall_by_chain_position", "fraud_share"):
        assert key in report
    assert report["at_threshold"]["confusion"] == {"tp": 3, "fp": 1, "fn": 2, "tn": 1}
    assert report["recall_by_chain_position"]["at_threshold"][1]["recall"] == pytest.approx(1.0)


def test_card_precision_top_k_per_day_by_hand() -> None:
    from fraudstream.model.metrics import card_precision_top_k

    days = np.array(["d1"] * 5 + ["d2"] * 3)
    cards = np.array(["A", "A", "B", "C", "D", "A", "E", "F"])
    y = np.array([0, 1, 0, 1, 0, 0, 1, 1])
    p = np.array([0.9, 0.1, 0.8, 0.7, 0.2, 0.3, 0.6, 0.5])
    # d1: A scores its max 0.9 and is fraudulent (its 0.1 row is); top 2 = A, B -> 1 of 2
    # d2: top 2 = E, F -> 2 of 2; with k = 5 the Handbook still divides by k: 2 / 5
    rows = card_precision_top_k(days, cards, y, p, k=2)
    assert [(r["day"], r["cards"], r["fraud_cards"], r["card_precision"]) for r in rows] == [
        ("d1", 4, 2, 0.5),
        ("d2", 3, 2, 1.0),
    ]
    assert [r["card_precision"] for r in card_precision_top_k(days, cards, y, p, k=5)] == [0.4, 0.4]


def test_recall_by_fraud_kind_and_the_report_block() -> None:
    from fraudstream.model.evaluation import honest_figures
    from fraudstream.model.metrics import recall_by_kind

    kinds = np.array([None, "chain", "chain", "merchant_compromise", None], dtype=object)
    y = np.array([0, 1, 1, 1, 1])
    p = np.array([0.9, 0.8, 0.2, 0.6, 0.7])
    assert recall_by_kind(kinds, y, p, 0.5) == [
        {"kind": "chain", "frauds": 2, "flagged": 1, "recall": 0.5},
        {"kind": "merchant_compromise", "frauds": 1, "flagged": 1, "recall": 1.0},
        {"kind": "unknown", "frauds": 1, "flagged": 1, "recall": 1.0},
    ]
    frame = pd.DataFrame(
        {
            "cc_num": ["1", "2", "3", "1", "4"],
            "trans_time": pd.to_datetime(["2020-05-15 01:00"] * 3 + ["2020-05-16 23:59"] * 2),
            "attack_kind": kinds,
        }
    )
    figures = honest_figures(frame, y, p, 0.5)
    cp = figures["card_precision_at_100"]
    # day 1: cards 1 (0.9, legit), 2 (fraud), 3 (fraud) -> 2 / 100; day 2: 2 fraud cards -> 2 / 100
    assert [d["day"] for d in cp["per_day"]] == ["2020-05-15", "2020-05-16"]
    assert cp["mean"] == pytest.approx(0.02) and cp["k"] == 100
    assert cp["best_possible_mean"] == pytest.approx(0.02)  # 2 compromised cards each day: all of them found
    assert figures["recall_by_fraud_kind"]["at_0_5"][0] == {"kind": "chain", "frauds": 2, "flagged": 1, "recall": 0.5}
    assert "card_precision_at_100" not in honest_figures(frame.drop(columns="cc_num"), y, p, 0.5)


def test_report_png_gets_a_panel_per_honest_figure(tmp_path: Path) -> None:
    from fraudstream.model.evaluation import honest_figures, plot_pr_curve

    y = np.array([0, 1, 1, 1, 1, 0])
    p = np.array([0.9, 0.8, 0.2, 0.6, 0.7, 0.1])
    frame = pd.DataFrame(
        {
            "cc_num": ["1", "2", "3", "1", "4", "5"],
            "trans_time": pd.to_datetime(["2020-05-15"] * 3 + ["2020-05-16"] * 3),
            "attack_kind": [None, "chain", "chain", "merchant_compromise", None, None],
        }
    )

    def width(report: dict | None) -> int:
        png = plot_pr_curve(y, p, 0.5, tmp_path / "pr.png", "t", report).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        return int.from_bytes(png[16:20], "big")  # IHDR width

    plain, full = width(None), width(honest_figures(frame, y, p, 0.5))
    assert full > 2.5 * plain  # the PR curve, then card precision per day and recall by kind beside it
