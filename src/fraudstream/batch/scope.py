"""What a batch run computes: every nightly group and training column (the default), or only what
some feature sets read (``BatchScope.for_feature_sets``; the demo's batch stage).

A narrowed run computes the same values for what it keeps (the same code, the same windows); it
leaves out the groups and columns no given set reads. Why: the demo trains and serves ``extended``,
which reads the 1-week group only, and the card windows (30 days of context, a sliding 30-day
maximum, twice the items to load) were about half of the demo's batch work for values it never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fraudstream import features as F
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP, NIGHTLY_GROUPS, FeatureGroup

MODEL_INPUT_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(name for names in F.FEATURE_SETS.values() for name in names if name != "amount")
)
"""Model inputs of all feature sets, beyond the raw ``amount`` (ratios and raw counts)."""
DERIVED_INPUT_COLUMNS: tuple[str, ...] = tuple(
    c for c in MODEL_INPUT_COLUMNS if c not in F.STREAM_FEATURES and c not in F.NIGHTLY_INPUTS
)
"""Inputs that ``compute_model_inputs`` derives (the ratios), added by ``batch.model_inputs``."""


@dataclass(frozen=True)
class BatchScope:
    """The nightly groups beyond the 1-week group (always computed) and the derived inputs written."""

    groups: tuple[FeatureGroup, ...] = NIGHTLY_GROUPS
    inputs: tuple[str, ...] = DERIVED_INPUT_COLUMNS
    feature_sets: tuple[str, ...] | None = None  # None: every set (the default run)

    @classmethod
    def for_feature_sets(cls, feature_sets: Iterable[str]) -> BatchScope:
        """What ``feature_sets`` read: the groups of their nightly values (``features.nightly_names``)
        and their derived inputs."""
        sets = tuple(dict.fromkeys(feature_sets))
        names = {name for fs in sets for name in (*F.model_input_names(fs), *F.nightly_names(fs))}
        return cls(
            groups=tuple(g for g in NIGHTLY_GROUPS if names & set(g.feature_names)),
            inputs=tuple(c for c in DERIVED_INPUT_COLUMNS if c in names),
            feature_sets=sets,
        )

    @property
    def card_windows(self) -> bool:
        return CARD_WINDOWS_GROUP in self.groups

    @property
    def merchants(self) -> bool:
        return MERCHANT_GROUP in self.groups

    @property
    def nightly_columns(self) -> tuple[str, ...]:
        """The training set's nightly columns, in the full set's order."""
        card = (*F.CARD_WINDOW_FEATURES, *F.CARD_AMOUNT_PROFILE) if self.card_windows else ()
        return (*F.BATCH_FEATURES, *card, *(F.MERCHANT_FEATURES if self.merchants else ()))

    def lookback_days(self, rule: F.LabelDelayRule = F.LABEL_DELAY) -> int:
        """Days of context before a day that its nightly values read: the longest window kept."""
        return max(
            F.BATCH_WINDOW_DAYS,
            max(F.CARD_WINDOWS) if self.card_windows else 0,
            rule.lookback_days if self.merchants else 0,
        )

    def covers(self, other: BatchScope) -> bool:
        """Whether a run of this scope holds everything a run of ``other`` would."""
        return set(other.groups) <= set(self.groups) and set(other.inputs) <= set(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """For summaries and the demo's stamps (``from_dict`` reads it back)."""
        return {"feature_sets": self.feature_sets, "groups": [g.key for g in self.groups], "inputs": list(self.inputs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BatchScope:
        """A stamp's scope; none recorded is the full run (what every run was before scopes)."""
        if not data:
            return cls()
        by_key = {g.key: g for g in NIGHTLY_GROUPS}
        sets = data.get("feature_sets")
        return cls(
            groups=tuple(by_key[k] for k in data.get("groups", ()) if k in by_key),
            inputs=tuple(data.get("inputs", ())),
            feature_sets=None if sets is None else tuple(sets),
        )


FULL = BatchScope()
"""Every group and column: what ``fraudstream batch`` computes."""
