"""Choose the decision threshold on the validation period by a stated rule; it ships with the model.

Rules (a string, stored in the metadata next to the threshold):
- ``best_f1``: the score that maximises F1 (flag when probability >= threshold);
- ``recall_at_precision:0.9``: the lowest score whose precision is still >= 0.9 (highest recall there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudstream.model.metrics import precision_recall_curve

DEFAULT_RULE = "best_f1"


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    rule: str
    precision: float
    recall: float
    f1: float


def choose_threshold(y: np.ndarray, p: np.ndarray, rule: str = DEFAULT_RULE) -> ThresholdChoice:
    """Apply ``rule`` to validation labels ``y`` and scores ``p``."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    if thresholds.size == 0 or np.asarray(y).sum() == 0:
        raise ValueError("cannot choose a threshold without positive validation examples")
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if rule == "best_f1":
        i = int(np.argmax(f1))
    elif rule.startswith("recall_at_precision:"):
        target = float(rule.split(":", 1)[1])
        ok = np.flatnonzero(precision >= target)
        if ok.size == 0:
            raise ValueError(f"no threshold reaches precision {target} on validation")
        i = int(ok[np.argmax(recall[ok])])
    else:
        raise ValueError(f"unknown threshold rule {rule!r}; use 'best_f1' or 'recall_at_precision:<p>'")
    return ThresholdChoice(float(thresholds[i]), rule, float(precision[i]), float(recall[i]), float(f1[i]))
