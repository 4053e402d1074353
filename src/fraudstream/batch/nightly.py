"""The nightly load: 1-week features of every active card into ``cc-agg-batch-fg`` (and the card windows and
merchant groups, ``batch.nightly_groups``), and backfill of all of them.

Writes go through ``DynamoFeatureStore`` (the one DynamoDB writer): conditional newer-wins puts
keyed by ``cc_num`` with ``as_of`` as the event time, so a re-run with the same inputs rewrites
the same items (equal event time) and an older run can never replace a newer one. Cards with no
transaction in the week get no item; a card that the previous run wrote but this one does not
(its week just emptied) gets an explicit empty item (count 0, no mean), so the store never
serves a week that has expired; the scorer then sees no history (missing ratios), exactly as
the point-in-time training set does.

A load that wrote anything then marks a new *batch version* in the table's marker item
(``DynamoFeatureStore.mark_batch_version``), after its last put: the fraud-scorer keeps the 1-week
features in an in-process cache and drops it when it sees the version change (within
``batch_cache_check_interval_s``). The summary records the version as ``batch_version``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudstream import features as F
from fraudstream.batch.nightly_groups import backfill_nightly_groups, load_nightly_groups, nightly_lookback_days
from fraudstream.batch.scope import FULL, BatchScope
from fraudstream.batch.source import load_transactions, nightly_days, source_name
from fraudstream.batch.summary import timed, write_summary
from fraudstream.batch.weekly_features import as_day, expired_cards, weekly_features, weekly_features_for_days
from fraudstream.featurestore.groups import BATCH_GROUP, FeatureGroup
from fraudstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from fraudstream.featurestore.online_store import OnlineStore

log = logging.getLogger(__name__)

LOAD_CHUNK = 1_000
"""Records per ``put_many`` call (one progress step)."""

LOAD_WORKERS = 4
"""``put_many`` calls in flight at once. Against DynamoDB Local on 2 cores one call at a time (2
transactions in flight) loaded 69-83 items/s under load; 4 and 8 transactions in flight 376 and
447 items/s in the same run (``benchmarks/bench_batch.py`` has the figures of record)."""


UNUSED_COLUMNS = frozenset({"tid", "attack_id", "attack_kind"})
"""Input columns no nightly group reads."""
CARD_COLUMNS = frozenset({"cc_num", "trans_time", "amount"})
"""All that the card groups (1-week, card windows) read."""


def as_of_text(day: date) -> str:
    """The ``as_of`` event time of a nightly run: its UTC midnight in the messages time format."""
    from fraudstream.messages import format_time

    return format_time(datetime(day.year, day.month, day.day, tzinfo=UTC))


def to_records(rows: Iterable[Mapping[str, Any]], as_of: date | None = None) -> list[dict[str, Any]]:
    """Store records from rows of ``cc_num`` + 1-week features (+ ``as_of`` DATE unless given)."""
    return [
        {
            "cc_num": row["cc_num"],
            F.NUM_TRANS_LAST_1W: int(row[F.NUM_TRANS_LAST_1W]),
            F.AVG_AMT_LAST_1W: None if row.get(F.AVG_AMT_LAST_1W) is None else float(row[F.AVG_AMT_LAST_1W]),
            "as_of": as_of_text(as_of or row["as_of"]),
        }
        for row in rows
    ]


def expired_records(cc_nums: Iterable[str], as_of: date) -> list[dict[str, Any]]:
    """Empty items (count 0, no mean) for cards whose week has just emptied."""
    return to_records(({"cc_num": c, F.NUM_TRANS_LAST_1W: 0, F.AVG_AMT_LAST_1W: None} for c in cc_nums), as_of)


def _chunks(records: list[dict[str, Any]], key: str = "cc_num") -> list[list[dict[str, Any]]]:
    """``LOAD_CHUNK``-record slices that may be written in parallel: one slice when a card repeats.

    ``put_many`` keeps one card's records in order within a call; across parallel calls it could
    not, so parallel slices need every card at most once (true of every load this module makes).
    """
    if len({r[key] for r in records}) != len(records):
        return [records] if records else []
    return [records[start : start + LOAD_CHUNK] for start in range(0, len(records), LOAD_CHUNK)]


def load_records(
    store: OnlineStore,
    records: list[dict[str, Any]],
    label: str = "loading",
    workers: int = LOAD_WORKERS,
    group: FeatureGroup = BATCH_GROUP,
    mark: bool = True,
) -> dict[str, Any]:
    """Conditional newer-wins puts of ``records``, ``workers`` slices in flight; counts per outcome.

    Each slice is one ``put_many`` (TransactWriteItems of 100 conditional puts, the store's own
    parallel transactions), so ``workers`` x the store's transactions are in flight. Transient errors
    are retried by botocore and the store's transaction rounds; a record still failing after those
    is counted as failed, not retried again.
    """
    from rich.progress import Progress

    counts: dict[str, Any] = {"written": 0, "skipped": 0, "failed": 0, "errors": []}
    chunks = _chunks(records, group.record_identifier)
    with Progress(transient=True) as progress, ThreadPoolExecutor(max(1, min(workers, len(chunks)))) as pool:
        task = progress.add_task(label, total=len(records))
        futures = {pool.submit(store.put_many, group, chunk): len(chunk) for chunk in chunks}
        for future in as_completed(futures):
            for outcome in future.result():
                counts[outcome.status] += 1
                if outcome.status == "failed" and len(counts["errors"]) < 20:
                    counts["errors"].append(outcome.error)
            progress.update(task, advance=futures[future])
    if counts["written"] and mark:  # after the last put: a scorer that sees the new version reads the new items
        counts["batch_version"] = store.mark_batch_version(label)
    return counts


def _default_store(settings: Settings | None) -> Any:
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore

    return DynamoFeatureStore(settings or get_settings())


def ensure_group_tables(store: Any, groups: Iterable[FeatureGroup]) -> None:
    """Create the issue-15 tables when missing: a stack started before they existed has none, and
    the load would fail on every put. Where the caller may not create tables (the AWS nightly role),
    the error is logged and the load goes on: the tables are then the stack's to provide."""
    from botocore.exceptions import BotoCoreError, ClientError

    from fraudstream.featurestore.groups import create_table

    client = getattr(store, "client", None)
    if client is None:
        return
    for group in groups:
        try:
            create_table(client, group.table_name(store.settings), group)
        except (BotoCoreError, ClientError) as exc:
            log.warning("could not make sure table %s exists (%s)", group.table_name(store.settings), exc)


def _summary_path(settings: Settings | None, name: str) -> Path:
    return Path((settings or get_settings()).state_dir) / "batch" / name


def _days_before(tx: DataFrame, day: date, days: int) -> DataFrame:
    """The rows of the ``days`` days before ``day`` (one scan, cached for every group and expiry)."""
    from pyspark.sql import functions as f

    first = day - timedelta(days=days)
    return tx.where(
        (f.col("trans_time") >= f.lit(f"{first.isoformat()} 00:00:00").cast("timestamp"))
        & (f.col("trans_time") < f.lit(f"{day.isoformat()} 00:00:00").cast("timestamp"))
    )


def run_nightly(
    spark: SparkSession,
    input_path: str | None,
    as_of: date | datetime | str,
    settings: Settings | None = None,
    store: OnlineStore | None = None,
    label_delay: F.LabelDelayRule | None = None,
    scope: BatchScope = FULL,
) -> dict[str, Any]:
    """Compute the nightly features for ``as_of`` (a UTC day) and load them; returns the summary.

    The 1-week group as ever, then the card windows (1 / 7 / 30 days) and, when the input has
    merchants and labels, the merchant group under ``label_delay`` (None: ``Settings.label_delay_days``,
    as for the training set; ``batch.nightly_groups``); one batch version is marked after all of them.
    ``input_path`` None reads the lake (only the days the run needs: the longest window, the label
    delay and one day for expiries). ``scope`` narrowed (``BatchScope.for_feature_sets``) loads only
    the groups its feature sets read, and reads only the days those need.
    """
    day = as_day(as_of)
    source = source_name(input_path, settings)
    label_delay = label_delay or F.LabelDelayRule((settings or get_settings()).label_delay_days)
    summary: dict[str, Any] = {"command": "nightly", "input": source, "as_of": as_of_text(day)}
    summary["label_delay_days"] = label_delay.delay_days
    if scope != FULL:
        summary["scope"] = scope.to_dict()
    lookback = nightly_lookback_days(label_delay, scope)
    with timed(summary):
        started = time.perf_counter()
        first_day = day - timedelta(days=lookback)
        tx = _days_before(
            load_transactions(spark, input_path, settings, first_day, nightly_days(day)[1]), day, lookback
        )
        # no group reads the transaction id or the generator's attack columns (nor, without the merchant
        # group, the merchant and labels): neither scanned nor cached
        unused = UNUSED_COLUMNS if scope.merchants else set(tx.columns) - CARD_COLUMNS
        tx = tx.select(*(c for c in tx.columns if c not in unused)).cache()
        try:
            week_rows = tx.select("cc_num", "trans_time", "amount")
            features_df: DataFrame = weekly_features(week_rows, day)
            records = to_records((row.asDict() for row in features_df.collect()), as_of=day)
            expired = expired_records((row["cc_num"] for row in expired_cards(week_rows, day).collect()), day)
            nightly_records = load_nightly_groups(tx, day, label_delay, summary, scope)
        finally:
            tx.unpersist()
        summary["cards"] = len(records)
        summary["cards_expired"] = len(expired)
        records += expired
        summary["compute_s"] = round(time.perf_counter() - started, 3)
        summary["transactions_in_window"] = sum(r[F.NUM_TRANS_LAST_1W] for r in records)
        store = store or _default_store(settings)
        ensure_group_tables(store, nightly_records)
        started = time.perf_counter()
        written = 0
        for group, group_records in nightly_records.items():
            counts = load_records(store, group_records, f"nightly {day} {group.key}", group=group, mark=False)
            summary[f"{group.key}_load"] = {k: v for k, v in counts.items() if k != "batch_version"}
            written += counts["written"]
        summary |= load_records(store, records, label=f"nightly {day}", mark=False)
        if summary["written"] or written:  # after the last put of every group: one version for all
            summary["batch_version"] = store.mark_batch_version(f"nightly {day}")
        summary["load_s"] = round(time.perf_counter() - started, 3)
    summary["table"] = BATCH_GROUP.table_name(getattr(store, "settings", None) or settings)
    summary["summary_path"] = str(write_summary(summary, _summary_path(settings, f"nightly-{day}.json")))
    return summary


def run_backfill(
    spark: SparkSession,
    input_path: str | None,
    from_date: date | str,
    to_date: date | str,
    settings: Settings | None = None,
    store: OnlineStore | None = None,
    label_delay: F.LabelDelayRule | None = None,
) -> dict[str, Any]:
    """Every nightly run of [from_date, to_date], leaving the store as running them in order would.

    All runs are computed in one Spark job; since puts are newer-wins per card, running the days
    in order leaves each card with its values of the *last* run that wrote it, so exactly that
    record is loaded (one put per card instead of one per card and day): the run of ``to_date``
    for cards active in its week, else the empty item of the day after the card's last run. The
    same for every group the nightly run writes: the card windows and, when the input has merchants
    and labels, the merchant group under ``label_delay`` (None: ``Settings.label_delay_days``)
    (``batch.nightly_groups.backfill_nightly_groups``); one batch version is marked after all of them.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as f

    first, last = as_day(from_date), as_day(to_date)
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    summary: dict[str, Any] = {
        "command": "backfill",
        "input": source_name(input_path, settings),
        "from": str(first),
        "to": str(last),
    }
    label_delay = label_delay or F.LabelDelayRule((settings or get_settings()).label_delay_days)
    summary["label_delay_days"] = label_delay.delay_days
    with timed(summary):
        # From the day before ``first``: a card last written by that run expires on ``first``.
        tx = load_transactions(spark, input_path, settings)
        nightly_records = backfill_nightly_groups(tx, first, last, label_delay, summary)
        runs = weekly_features_for_days(tx, first - timedelta(days=1), last).cache()
        try:
            per_day = {
                str(r["as_of"]): int(r["cards"])
                for r in runs.where(f.col("as_of") >= f.lit(first))
                .groupBy("as_of")
                .count()
                .withColumnRenamed("count", "cards")
                .collect()
            }
            latest = Window.partitionBy("cc_num").orderBy(f.col("as_of").desc())
            final = runs.withColumn("_rank", f.row_number().over(latest)).where("_rank = 1").drop("_rank")
            records, expired = [], []
            for row in final.toLocalIterator():
                if row["as_of"] == last:
                    records.append(row.asDict())
                else:  # the card's week emptied the day after its last run, inside the range
                    expired.append((row["cc_num"], row["as_of"] + timedelta(days=1)))
        finally:
            runs.unpersist()
        records = to_records(records) + [r for c, d in expired for r in expired_records([c], d)]
        summary["cards_expired"] = len(expired)
        summary["cards_per_day"] = dict(sorted(per_day.items()))
        summary["days"] = (last - first).days + 1
        summary["cards"] = len(records)
        store = store or _default_store(settings)
        ensure_group_tables(store, nightly_records)
        written = 0
        for group, group_records in nightly_records.items():
            label = f"backfill {first}..{last} {group.key}"
            counts = load_records(store, group_records, label, group=group, mark=False)
            summary[f"{group.key}_load"] = {k: v for k, v in counts.items() if k != "batch_version"}
            written += counts["written"]
        summary |= load_records(store, records, label=f"backfill {first}..{last}", mark=False)
        if summary["written"] or written:  # after the last put of every group: one version for all
            summary["batch_version"] = store.mark_batch_version(f"backfill {first}..{last}")
    summary["table"] = BATCH_GROUP.table_name(getattr(store, "settings", None) or settings)
    summary["summary_path"] = str(write_summary(summary, _summary_path(settings, f"backfill-{first}-{last}.json")))
    return summary
