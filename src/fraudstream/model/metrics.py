"""Ranking and threshold metrics in plain numpy (no scikit-learn dependency).

Definitions match scikit-learn's: PR-AUC is average precision (step-wise, no interpolation),
ROC-AUC is the Mann-Whitney statistic with ties counted as one half.
"""

from __future__ import annotations

import numpy as np


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int8).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.shape[0]}) and scores ({p.shape[0]}) differ in length")
    return y, p


def precision_recall_curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall when flagging ``p >= t`` for each distinct score ``t`` (descending)."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_value].astype(float)
    fps = (last_of_value + 1) - tps
    positives = max(float(y.sum()), 1.0)
    precision = tps / np.maximum(tps + fps, 1.0)
    recall = tps / positives
    return precision, recall, p_sorted[last_of_value]


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """PR-AUC as average precision: sum over thresholds of (recall gain) x precision."""
    precision, recall, _ = precision_recall_curve(y, p)
    if np.asarray(y).sum() == 0:
        return float("nan")
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: probability that a fraud outranks a legitimate transaction."""
    y, p = _check(y, p)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    boundaries = np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1, p.size]
    sizes = np.diff(boundaries)
    ranks = np.empty(p.size, dtype=float)
    ranks[order] = np.repeat((boundaries[:-1] + boundaries[1:] + 1) / 2.0, sizes)  # average rank of ties
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def confusion(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts when a transaction is flagged as fraud iff ``p >= threshold``."""
    y, p = _check(y, p)
    flagged = p >= threshold
    tp = int(np.sum(flagged & (y == 1)))
    fp = int(np.sum(flagged & (y == 0)))
    fn = int(np.sum(~flagged & (y == 1)))
    tn = int(np.sum(~flagged & (y == 0)))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def scores_at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, object]:
    """Precision, recall, F1 and the confusion matrix at one threshold."""
    cm = confusion(y, p, threshold)
    precision = cm["tp"] / (cm["tp"] + cm["fp"]) if cm["tp"] + cm["fp"] else 0.0
    recall = cm["tp"] / (cm["tp"] + cm["fn"]) if cm["tp"] + cm["fn"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": float(threshold), "precision": precision, "recall": recall, "f1": f1, "confusion": cm}


def card_precision_top_k(
    days: np.ndarray, cards: np.ndarray, y: np.ndarray, p: np.ndarray, k: int = 100
) -> list[dict[str, object]]:
    """Card precision top-k per day (Fraud-Detection-Handbook, ch. 4): per day, each card scores
    its highest score of the day and is fraudulent when any of its transactions that day is; the
    k highest-scoring cards are the day's alerts, and the figure is fraudulent cards among them / k
    (divided by k even on a day with fewer cards, as the Handbook does). Ties keep card order."""
    y, p = _check(y, p)
    days = np.asarray(days)
    cards = np.asarray(cards)
    if not (days.shape == cards.shape == y.shape):
        raise ValueError("days, cards, labels and scores must have one entry per transaction")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    out: list[dict[str, object]] = []
    for day in np.unique(days):
        on_day = days == day
        card_of, inverse = np.unique(cards[on_day], return_inverse=True)
        best = np.full(card_of.size, -np.inf)
        np.maximum.at(best, inverse, p[on_day])
        fraud = np.zeros(card_of.size, dtype=np.int8)
        np.maximum.at(fraud, inverse, y[on_day])
        top = np.argsort(-best, kind="mergesort")[:k]
        hits = int(fraud[top].sum())
        out.append(
            {
                "day": str(day),
                "cards": int(card_of.size),
                "fraud_cards": int(fraud.sum()),
                "fraud_cards_in_top_k": hits,
                "card_precision": hits / k,
            }
        )
    return out


def recall_by_kind(kinds: np.ndarray, y: np.ndarray, p: np.ndarray, threshold: float) -> list[dict[str, object]]:
    """Recall per fraud kind (``attack_kind`` of the fraud rows; a fraud without one is ``unknown``)."""
    y, p = _check(y, p)
    kinds = np.asarray(kinds, dtype=object)
    if kinds.shape != y.shape:
        raise ValueError("kinds and labels differ in length")
    fraud = y == 1
    named = np.array(["unknown" if k is None or k != k or k == "" else str(k) for k in kinds[fraud]], dtype=object)
    flagged = p[fraud] >= threshold
    rows = []
    for kind in sorted(set(named)):
        mask = named == kind
        n, hit = int(mask.sum()), int(flagged[mask].sum())
        rows.append({"kind": kind, "frauds": n, "flagged": hit, "recall": hit / n})
    return rows
