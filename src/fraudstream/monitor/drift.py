"""Population stability index (PSI) of served inputs against the training reference.

PSI = sum over bins of (a - e) * ln(a / e), with e the training share and a the served share of a
bin (missing values are one more bin). Empty shares are floored at ``EPSILON`` so that a bin the
reference never saw gives a large but finite value. Above ``DRIFT_THRESHOLD`` an input is flagged
(the usual rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 significant).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fraudstream.model.reference import bin_shares

DRIFT_THRESHOLD = 0.2
EPSILON = 1e-4


def psi(expected: list[float], actual: list[float]) -> float:
    """PSI between two share vectors of the same bins."""
    if len(expected) != len(actual):
        raise ValueError(f"bin counts differ: {len(expected)} expected shares, {len(actual)} actual")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def input_psi(reference: dict[str, Any], values: np.ndarray) -> float:
    """PSI of served ``values`` of one input against its stored reference (bins + missing)."""
    shares, missing = bin_shares(values, reference["edges"])
    return psi([*reference["shares"], reference["missing"]], [*shares, missing])


def drift_report(references: dict[str, dict[str, Any]], columns: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """PSI and flag per input that has both a reference and served values."""
    report: dict[str, dict[str, Any]] = {}
    for name, reference in references.items():
        values = columns.get(name)
        if values is None or len(values) == 0:
            continue
        value = input_psi(reference, values)
        report[name] = {"psi": value, "drifted": value > DRIFT_THRESHOLD, "rows": int(len(values))}
    return report
