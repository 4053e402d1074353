"""The nightly load's issue-15 groups: card windows (1 / 7 / 30 days) and merchant count and risk.

Each group's run of ``as_of`` comes straight from its SQL in ``features`` (``card_window_features``,
``merchant_features``), the definitions the training set's windows are tested against. As for the
1-week group, a key the previous night wrote but this night does not (its longest window just
emptied) gets an explicit empty item (counts 0, no means or risks), so the store never serves an
expired window; the model inputs read a count of 0 as missing, as the training set's NULL.

The merchant group needs ``merchant`` and ``fraud_label`` (and ``labelled_at``, else each label
counts as known ``delay_days`` after its transaction); an input without them (the lake,
which holds no labels) loads no merchant group, and the summary says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from fraudstream import features as F
from fraudstream.batch.card_windows import card_window_features
from fraudstream.batch.merchant_features import has_merchant_inputs, merchant_features
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP, FeatureGroup

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

MERCHANTS_SKIPPED = "skipped: the input has no merchant and fraud_label columns"


def nightly_lookback_days(rule: F.LabelDelayRule = F.LABEL_DELAY) -> int:
    """Days before ``as_of`` a nightly run reads: the longest window (with the label delay) and the
    previous night's, for expiries."""
    return max(F.BATCH_WINDOW_DAYS, max(F.CARD_WINDOWS), rule.lookback_days) + 1


def empty_record(group: FeatureGroup, key: str, as_of: str) -> dict[str, Any]:
    """The item of a key whose windows just emptied: every count 0, nothing else but ``as_of``."""
    counts = {name: 0 for name, _ in group.features if name in F.NIGHTLY_COUNTS}
    return {group.record_identifier: key, **counts, "as_of": as_of}


def group_records(group: FeatureGroup, run: Callable[[date], DataFrame], day: date) -> tuple[list[dict], int]:
    """Records of the run of ``day`` plus empty items of the keys only the previous run had; and their count."""
    from fraudstream.batch.nightly import as_of_text

    key = group.record_identifier
    as_of = as_of_text(day)
    today = run(day)
    names = [name for name, _ in group.features if name != group.event_time_field]
    records = [{key: row[key], **{n: row[n] for n in names}, "as_of": as_of} for row in today.collect()]
    gone = run(day - timedelta(days=1)).select(key).join(today.select(key), key, "left_anti").collect()
    return records + [empty_record(group, row[key], as_of) for row in gone], len(gone)


def load_nightly_groups(
    tx: DataFrame, day: date, rule: F.LabelDelayRule, summary: dict[str, Any]
) -> dict[FeatureGroup, list[dict[str, Any]]]:
    """Records per issue-15 group for the night of ``day`` (``tx``: the rows of the lookback days);
    adds ``<group>`` (keys) and ``<group>_expired`` counts to ``summary``."""
    runs: dict[FeatureGroup, Callable[[date], DataFrame]] = {
        CARD_WINDOWS_GROUP: lambda d: card_window_features(tx, d),
    }
    if has_merchant_inputs(tx):
        runs[MERCHANT_GROUP] = lambda d: merchant_features(tx, d, rule)
    else:
        summary[MERCHANT_GROUP.key] = MERCHANTS_SKIPPED
    out: dict[FeatureGroup, list[dict[str, Any]]] = {}
    for group, run in runs.items():
        records, expired = group_records(group, run, day)
        summary[group.key] = len(records) - expired
        summary[f"{group.key}_expired"] = expired
        out[group] = records
    return out
