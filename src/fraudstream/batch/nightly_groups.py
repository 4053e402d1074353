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
from fraudstream.batch.scope import FULL, BatchScope
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP, NIGHTLY_GROUPS, FeatureGroup

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

MERCHANTS_SKIPPED = "skipped: the input has no merchant and fraud_label columns"
OUT_OF_SCOPE = "skipped: not read by the feature sets"


def nightly_lookback_days(rule: F.LabelDelayRule = F.LABEL_DELAY, scope: BatchScope = FULL) -> int:
    """Days before ``as_of`` a nightly run reads: the longest window of ``scope`` (with the label
    delay) and the previous night's, for expiries."""
    return scope.lookback_days(rule) + 1


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


def _group_runs(
    tx: DataFrame, rule: F.LabelDelayRule, summary: dict[str, Any], scope: BatchScope = FULL
) -> dict[FeatureGroup, tuple[Callable[[date], DataFrame], int]]:
    """Per issue-15 group of ``scope`` the input allows: its run of a day and its reach in days (a key
    has a row in the run of ``as_of`` exactly when it has a transaction in [as_of - reach, as_of): the
    WHERE of its SQL). A skipped group is said in ``summary``."""
    runs: dict[FeatureGroup, tuple[Callable[[date], DataFrame], int]] = {}
    if scope.card_windows:
        runs[CARD_WINDOWS_GROUP] = (lambda d: card_window_features(tx, d), max(F.CARD_WINDOWS))
    if scope.merchants and has_merchant_inputs(tx):
        runs[MERCHANT_GROUP] = (lambda d: merchant_features(tx, d, rule), rule.lookback_days)
    elif scope.merchants:
        summary[MERCHANT_GROUP.key] = MERCHANTS_SKIPPED
    for group in set(NIGHTLY_GROUPS) - set(scope.groups):
        summary[group.key] = f"{OUT_OF_SCOPE} {list(scope.feature_sets or ())}"
    return runs


def load_nightly_groups(
    tx: DataFrame, day: date, rule: F.LabelDelayRule, summary: dict[str, Any], scope: BatchScope = FULL
) -> dict[FeatureGroup, list[dict[str, Any]]]:
    """Records per issue-15 group of ``scope`` for the night of ``day`` (``tx``: the rows of the
    lookback days); adds ``<group>`` (keys) and ``<group>_expired`` counts to ``summary``."""
    out: dict[FeatureGroup, list[dict[str, Any]]] = {}
    for group, (run, _) in _group_runs(tx, rule, summary, scope).items():
        records, expired = group_records(group, run, day)
        summary[group.key] = len(records) - expired
        summary[f"{group.key}_expired"] = expired
        out[group] = records
    return out


def backfill_nightly_groups(
    tx: DataFrame, first: date, last: date, rule: F.LabelDelayRule, summary: dict[str, Any]
) -> dict[FeatureGroup, list[dict[str, Any]]]:
    """Records per issue-15 group that leave the store as the nightly runs of ``first`` .. ``last`` in
    order would (puts are newer-wins per key, so each key keeps what the last run that wrote it wrote):
    the run of ``last`` for the keys it has; for a key it lacks whose last run fell inside the range,
    the empty item of the night after (its longest window emptied then). Adds ``<group>`` and
    ``<group>_expired`` counts to ``summary``."""
    from pyspark.sql import functions as f

    from fraudstream.batch.nightly import as_of_text

    end = f.lit(f"{last.isoformat()} 00:00:00").cast("timestamp")
    out: dict[FeatureGroup, list[dict[str, Any]]] = {}
    for group, (run, reach) in _group_runs(tx, rule, summary).items():
        key = group.record_identifier
        names = [name for name, _ in group.features if name != group.event_time_field]
        today = run(last)
        as_of = as_of_text(last)
        records = [{key: row[key], **{n: row[n] for n in names}, "as_of": as_of} for row in today.collect()]
        # the night after a key's last row: its last transaction's day + reach + 1 (in [first, last])
        emptied = (
            tx.where(f.col(key).isNotNull() & (f.col("trans_time") < end))
            .groupBy(key)
            .agg(f.date_add(f.to_date(f.max("trans_time")), reach + 1).alias("emptied"))
            .where(f.col("emptied").between(f.lit(first), f.lit(last)))
            .join(today.select(key), key, "left_anti")
            .collect()
        )
        expired = [empty_record(group, row[key], as_of_text(row["emptied"])) for row in emptied]
        summary[group.key] = len(records)
        summary[f"{group.key}_expired"] = len(expired)
        out[group] = records + expired
    return out
