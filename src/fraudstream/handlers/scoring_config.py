"""Which model the scorer assumes: feature set, threshold and version, and where each comes from.

Precedence (first that is set wins):

- ``feature_set``: ``Settings.feature_set`` (env ``FRAUDSTREAM_FEATURE_SET``) → the model registry's latest metadata
  (``settings.model_dir``) → ``"anchor"``. It decides which columns are sent, so it must be known
  before the call; if the endpoint reports another set, the batch fails (no silent skew).
- ``threshold``: ``Settings.threshold`` (env ``FRAUDSTREAM_THRESHOLD``, checked to be in [0, 1])
  → the endpoint's answer (the model that actually produced the probabilities) → registry metadata → 0.5.
- ``model_version``: the endpoint's answer → registry metadata → ``"unknown"``.

In Lambda there is no local registry, so the endpoint's answer and the env overrides decide.
The registry metadata is re-read every ``METADATA_TTL_S`` seconds so a newly trained model is
picked up without restarting the runner.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from fraudstream import features
from fraudstream.endpoint_client import EndpointError, EndpointResult
from fraudstream.settings import Settings

DEFAULT_THRESHOLD = 0.5
DEFAULT_FEATURE_SET = "anchor"
METADATA_TTL_S = 60.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """How one batch's probabilities are turned into decisions."""

    threshold: float
    model_version: str
    feature_set: str


class ScoringConfig:
    """Resolves feature set / threshold / version with the documented precedence."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._metadata: Any = None
        self._loaded_at = float("-inf")

    def metadata(self) -> Any:
        """The registry's latest ModelMetadata, or None when there is no local registry."""
        now = time.monotonic()
        if now - self._loaded_at < METADATA_TTL_S:
            return self._metadata
        self._loaded_at = now
        try:
            from fraudstream.model.registry import load_metadata

            self._metadata = load_metadata(self.settings.model_dir)
        except (ImportError, FileNotFoundError, OSError, KeyError, ValueError) as exc:
            log.debug("no model metadata in %s: %s", self.settings.model_dir, exc)
            self._metadata = None
        return self._metadata

    def feature_set(self) -> str:
        chosen = (self.settings.feature_set or "").strip() or getattr(self.metadata(), "feature_set", None)
        chosen = chosen or DEFAULT_FEATURE_SET
        features.model_input_names(chosen)  # raises KeyError naming the valid sets
        return chosen

    def verdict(self, result: EndpointResult, feature_set: str) -> Verdict:
        if result.feature_set and result.feature_set != feature_set:
            raise EndpointError(
                f"endpoint serves feature set {result.feature_set!r} but the scorer sent {feature_set!r}"
            )
        meta = self.metadata()
        threshold = self.settings.threshold
        if threshold is None:
            threshold = result.threshold if result.threshold is not None else getattr(meta, "threshold", None)
        version = result.model_version or getattr(meta, "version", None) or "unknown"
        return Verdict(
            threshold=float(threshold) if threshold is not None else DEFAULT_THRESHOLD,
            model_version=str(version),
            feature_set=feature_set,
        )
