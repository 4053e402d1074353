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
