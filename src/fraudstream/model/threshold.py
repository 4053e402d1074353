"""Choose the decision threshold on the validation period by a stated rule; it ships with the model.

Rules (a string, stored in the metadata next to the threshold; flag when probability >= threshold):
- ``best_f1``: the score that maximises F1. It follows the shape of the top of the PR curve,
  which a few hundred validation frauds pin down poorly, so it swings with data size;
- ``recall_at_precision:0.9``: the lowest score whose precision is still >= 0.9 (point estimate);
- ``target_precision:0.9``: the lowest score whose precision is >= 0.9 *with 95 % confidence*
  (the one-sided Wilson lower bound of tp / flagged reaches 0.9): a business promise ("nine in
  ten alerts are fraud") with a margin for the sample it was measured on;
- ``alert_budget:150`` (or ``150/day``): the lowest score that flags at most 150 transactions per
  validation day on average (the investigators' daily capacity: top-k alerts per day);
  ``alert_budget:2/1000``: at most 2 alerts per 1,000 validation transactions (a share of traffic).

A rule that no threshold meets (a precision the model never reaches on validation, a budget below
the top score's ties) gets its closest threshold and a warning in the report: training does not stop.
The business rules need enough validation fraud (``MIN_VALIDATION_FRAUDS``) and refuse below it;
``best_f1`` and ``recall_at_precision`` still answer but carry a warning. ``bootstrap_stability`` re-applies a rule to
Poisson bootstrap resamples of the validation set: the spread of the thresholds it would have
chosen, and of precision / recall at the chosen one, is what the report shows as its stability.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

DEFAULT_RULE = "target_precision:0.9"
BUSINESS_RULES = ("target_precision", "alert_budget")
MIN_VALIDATION_FRAUDS = 30
"""Below this many validation frauds a business rule refuses (its margin would be all noise)."""
WILSON_Z = 1.645  # one-sided 95 %
BOOTSTRAP_RESAMPLES = 200
RULES_HELP = (
    "best_f1 | target_precision:<p> (precision >= p at 95% confidence) | "
    "alert_budget:<k> (alerts per day) | alert_budget:<k>/1000 (per 1,000 transactions) | recall_at_precision:<p>"
)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    rule: str
    precision: float
    recall: float
    f1: float
    alerts_per_1000: float = float("nan")
    validation_frauds: int = 0
    warning: str | None = None
    stability: dict[str, Any] | None = None

    def to_report(self) -> dict[str, Any]:
        """The ``validation.threshold`` block of report.json."""
        out = asdict(self)
        out["value"] = out.pop("threshold")
        return out


@dataclass(frozen=True)
class Curve:
    """Counts when flagging ``p >= thresholds[i]`` (distinct scores, descending)."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: float
    total: float

    @property
    def precision(self) -> np.ndarray:
        return self.tp / np.maximum(self.tp + self.fp, 1.0)

    @property
    def recall(self) -> np.ndarray:
        return self.tp / max(self.positives, 1.0)


def _sorted(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and scores by descending score, and the last index of each distinct score."""
    y = np.asarray(y).astype(np.int8).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and scores ({p.size}) differ in length")
    order = np.argsort(-p, kind="mergesort")
    p_sorted = p[order]
    ends = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.size - 1].astype(np.int64)
    return y[order], p_sorted, ends


def _curve(y_sorted: np.ndarray, p_sorted: np.ndarray, ends: np.ndarray, weights: np.ndarray | None) -> Curve:
    w = np.ones(y_sorted.size) if weights is None else weights.astype(float)
    tp = np.cumsum(w * y_sorted)[ends]
    fp = np.cumsum(w * (1 - y_sorted))[ends]
    return Curve(p_sorted[ends], tp, fp, float(tp[-1]) if tp.size else 0.0, float(w.sum()))


def wilson_lower(successes: np.ndarray, trials: np.ndarray, z: float = WILSON_Z) -> np.ndarray:
    """One-sided Wilson score lower bound of a proportion (0 where there are no trials)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    safe = np.maximum(n, 1.0)
    phat = k / safe
    centre = phat + z * z / (2 * safe)
    margin = z * np.sqrt(phat * (1 - phat) / safe + z * z / (4 * safe * safe))
    return np.where(n > 0, (centre - margin) / (1 + z * z / safe), 0.0)


def parse_rule(rule: str) -> tuple[str, float, bool]:
    """``(kind, value, per_day)``; raises a one-line ValueError on anything else."""
    kind, _, arg = rule.partition(":")
    if kind == "best_f1" and not arg:
        return kind, float("nan"), False
    if kind in ("target_precision", "recall_at_precision", "alert_budget") and arg:
        per_day = kind == "alert_budget" and not arg.endswith("/1000")
        try:
            value = float(arg.removesuffix("/day").removesuffix("/1000"))
        except ValueError:
            value = float("nan")
        bounded = 0 < value <= 1 if kind != "alert_budget" else 0 < value < (math.inf if per_day else 1000)
        if bounded:
            return kind, value, per_day
    raise ValueError(f"unknown threshold rule {rule!r}; use {RULES_HELP}")


def _pick(curve: Curve, kind: str, value: float, per_day: bool, days: float | None) -> int | None:
    """Index of the chosen threshold on ``curve``, or None when the rule cannot be met."""
    flagged = curve.tp + curve.fp
    if kind == "best_f1":
        prec, rec = curve.precision, curve.recall
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
        return int(np.argmax(f1))
    if kind == "alert_budget":
        budget = value * days if per_day and days else value * curve.total / 1000.0
        ok = np.flatnonzero(flagged <= budget)
    elif kind == "target_precision":
        ok = np.flatnonzero(wilson_lower(curve.tp, flagged) >= value)
    else:  # recall_at_precision: recall grows with the index, so the last one that passes
        ok = np.flatnonzero(curve.precision >= value)
    return int(ok[-1]) if ok.size else None


def _fallback(curve: Curve, kind: str) -> int:
    """The closest a rule that cannot be met gets: the most precise threshold (by the Wilson lower
    bound for ``target_precision``, by point precision otherwise), or the fewest alerts for a budget."""
    if kind == "alert_budget":
        return 0
    flagged = curve.tp + curve.fp
    precision = wilson_lower(curve.tp, flagged) if kind == "target_precision" else curve.precision
    return int(np.argmax(precision))


def choose_threshold(
    y: np.ndarray,
    p: np.ndarray,
    rule: str = DEFAULT_RULE,
    days: float | None = None,
    min_frauds: int = MIN_VALIDATION_FRAUDS,
) -> ThresholdChoice:
    """Apply ``rule`` to validation labels ``y`` and scores ``p`` (``days``: the period's length,
    needed by the per-day ``alert_budget:<k>``)."""
    kind, value, per_day = parse_rule(rule)
    if per_day and not days:
        raise ValueError(f"{rule!r} needs the validation period's length in days")
    y_sorted, p_sorted, ends = _sorted(y, p)
    frauds = int(y_sorted.sum())
    if ends.size == 0 or frauds == 0:
        raise ValueError("cannot choose a threshold without positive validation examples")
    warning = None
    if frauds < min_frauds:
        if kind in BUSINESS_RULES:
            raise ValueError(
                f"validation has {frauds} frauds, fewer than {min_frauds} needed for {rule!r}; "
                "widen the validation period (--validation-start) or use --threshold-rule best_f1"
            )
        warning = f"only {frauds} validation frauds (< {min_frauds}): this threshold is noise-prone"
    curve = _curve(y_sorted, p_sorted, ends, None)
    i = _pick(curve, kind, value, per_day, days)
    if i is None:
        i = _fallback(curve, kind)
        warning = (
            f"no threshold meets {rule!r} on validation: serving its closest, threshold "
            f"{curve.thresholds[i]:.4f} (precision {curve.precision[i]:.3f}, 95 % lower bound "
            f"{wilson_lower(curve.tp[i : i + 1], curve.tp[i : i + 1] + curve.fp[i : i + 1])[0]:.3f}); "
            "lower the target or widen the budget"
        )
    prec, rec = float(curve.precision[i]), float(curve.recall[i])
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    alerts = 1000.0 * float(curve.tp[i] + curve.fp[i]) / curve.total
    return ThresholdChoice(float(curve.thresholds[i]), rule, prec, rec, f1, alerts, frauds, warning)


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"p05": float("nan"), "p50": float("nan"), "p95": float("nan")}
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return {"p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def bootstrap_stability(
    y: np.ndarray,
    p: np.ndarray,
    rule: str,
    threshold: float,
    days: float | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """How much ``rule`` and the chosen ``threshold`` move over Poisson bootstrap resamples of the
    validation set: the 5th/50th/95th percentile of the re-chosen threshold, and of precision,
    recall and alerts per 1,000 at the chosen threshold. One sort, then O(n) per resample."""
    kind, value, per_day = parse_rule(rule)
    y_sorted, p_sorted, ends = _sorted(y, p)
    rng = np.random.default_rng(seed)
    chosen = np.searchsorted(-p_sorted[ends], -threshold, side="right") - 1  # last score >= threshold
    thresholds, precision, recall, alerts = [], [], [], []
    unmet = 0
    for _ in range(resamples):
        curve = _curve(y_sorted, p_sorted, ends, rng.poisson(1.0, y_sorted.size))
        i = _pick(curve, kind, value, per_day, days)
        if i is None:
            unmet += 1
            i = _fallback(curve, kind)
        thresholds.append(curve.thresholds[i])
        if chosen >= 0:
            precision.append(curve.precision[chosen])
            recall.append(curve.recall[chosen])
            alerts.append(1000.0 * (curve.tp[chosen] + curve.fp[chosen]) / curve.total)
    t = np.asarray(thresholds)
    spread = _quantiles(t)
    return {
        "resamples": resamples,
        "unmet": unmet,
        "threshold": {**spread, "width_90": spread["p95"] - spread["p05"]},
        "precision_at_threshold": _quantiles(np.asarray(precision)),
        "recall_at_threshold": _quantiles(np.asarray(recall)),
        "alerts_per_1000_at_threshold": _quantiles(np.asarray(alerts)),
    }


def choose_with_stability(
    y: np.ndarray, p: np.ndarray, rule: str = DEFAULT_RULE, days: float | None = None, seed: int = 0
) -> ThresholdChoice:
    """``choose_threshold`` plus its ``bootstrap_stability`` (what training records)."""
    choice = choose_threshold(y, p, rule, days)
    return replace(choice, stability=bootstrap_stability(y, p, rule, choice.threshold, days, seed=seed))
