"""The loaded model: booster + metadata, read once at start-up and reused by every request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream.model import registry


@dataclass
class Predictor:
    """Scores input matrices with ``inplace_predict`` (no DMatrix per request)."""

    booster: Any
    metadata: registry.ModelMetadata

    @classmethod
    def load(cls, model_dir: str | Path, version: str = registry.LATEST, nthread: int = 1) -> Predictor:
        """Load a registry version; ``nthread=1`` keeps single-row latency low next to other processes."""
        version_dir = registry.resolve_version_dir(model_dir, version)  # resolve once: latest may move
        metadata = registry.load_metadata(version_dir)
        booster = registry.load_booster(version_dir)
        booster.set_param({"nthread": nthread})
        predictor = cls(booster, metadata)
        predictor.predict(np.zeros((1, predictor.n_features), dtype=np.float32))  # warm-up
        return predictor

    @property
    def feature_names(self) -> list[str]:
        return self.metadata.feature_names

    @property
    def n_features(self) -> int:
        return len(self.metadata.feature_names)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probabilities (float32) for a (rows x n_features) float32 matrix, NaN = missing."""
        return self.booster.inplace_predict(matrix, validate_features=False)
