"""Reference distributions of the model inputs, stored with each model at training time.

Why: drift is only measurable against what the model was trained on. Each input gets quantile bin
edges from the training rows and the share of training rows per bin (plus the share of missing
values, XGBoost's native missing), so the monitor can compute PSI without the training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

REFERENCE_KEY = "reference_distribution"
"""Key of the reference distributions in a model's ``metadata.json``."""
DEFAULT_BINS = 10


def bin_shares(values: np.ndarray, edges: list[float]) -> tuple[list[float], float]:
    """Share of ``values`` per bin of ``edges`` (inner edges; open-ended outer bins) and share missing."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return [0.0] * (len(edges) + 1), 0.0
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="right"), minlength=len(edges) + 1)
    return [float(c) / n for c in counts], float(n - len(present)) / n


def input_reference(values: np.ndarray, n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Quantile bin edges of one input and the training shares per bin."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    if len(present) == 0:
        edges: list[float] = []
    else:
        qs = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])
        edges = sorted({float(q) for q in qs})
    shares, missing = bin_shares(values, edges)
    return {"edges": edges, "shares": shares, "missing": missing, "rows": int(len(values))}


def reference_distribution(x: np.ndarray, names: list[str], n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """One :func:`input_reference` per model input (columns of ``x`` in ``names`` order)."""
    return {name: input_reference(x[:, i], n_bins) for i, name in enumerate(names)}
