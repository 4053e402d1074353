"""The online feature store on DynamoDB: conditional newer-wins puts and one-round-trip batch reads.

Every item carries its group's event time (an ISO string in the messages format, so it orders as
text). A put is a conditional write that refuses to replace an item with a *later* event time;
an equal event time overwrites, so replays are idempotent and out-of-order deliveries never move
a feature back in time.

Many records are written with ``TransactWriteItems`` of up to 100 conditional puts (the same
condition per item), several transactions in parallel: against DynamoDB Local one transaction
costs about what one ``PutItem`` costs, so this is ~10x the throughput of parallel single puts
(``benchmarks/bench_agg_writer.py``). A transaction is all-or-nothing: when it is cancelled, the
cancellation reasons say, per item, whether its condition failed (a later item is stored: the
record is *skipped*, exactly what a single conditional put would do) or it was merely cancelled
along with the others; those are retried in the next transaction, so each record's outcome is the
one a single conditional put would have had. On AWS a transactional write costs two write units
per item instead of one; ``put_many(..., method="put")`` keeps the parallel single-put path.

The batch group also holds one reserved item, the *batch version* marker
(``cc_num = "_meta#version"``, never a 16-digit card): writers of the batch group (the nightly
load, replay seeding) call :meth:`DynamoFeatureStore.mark_batch_version` after writing, and the
fraud-scorer's in-process cache (:mod:`fraudstream.featurestore.batch_cache`) re-reads it to know
when its copy of the 1-week features is stale. Card reads and scans skip reserved keys.
"""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, DecimalException
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from fraudstream.featurestore.groups import (
    BATCH_GROUP,
    CARD_GROUPS,
    FEATURE_GROUPS,
    MERCHANT_GROUP,
    STREAM_GROUP,
    FeatureGroup,
)
from fraudstream.settings import Settings, get_settings

BATCH_GET_MAX_KEYS = 100
"""DynamoDB's BatchGetItem limit on keys per request (summed over tables)."""

PUT_WORKERS = 8
"""Concurrent conditional puts of the single-put path (``method="put"``; boto3 clients are thread-safe)."""

TRANSACT_MAX_ITEMS = 100
"""DynamoDB's limit on actions per ``TransactWriteItems``."""

TRANSACT_WORKERS = 2
"""Transactions in flight at once (measured best against DynamoDB Local on 2 cores; see the module doc)."""

TRANSACT_TRANSIENT_ATTEMPTS = 6
"""Rounds of a transaction cancelled for a transient per-item cause (``TransactionConflict``, throttling)
before the rest of a chunk is reported failed. botocore does not retry a cancelled transaction; every
other error has already been retried by botocore (``store_client``'s retry config) and is reported at once."""

MAX_POOL_CONNECTIONS = 32
"""HTTP connections of the store's boto3 client (botocore's default of 10 would queue the parallel paths)."""

RESERVED_KEY_PREFIX = "_meta#"
"""Record identifiers starting with this are store metadata, never cards (cards are 16 digits)."""

BATCH_VERSION_KEY = RESERVED_KEY_PREFIX + "version"
"""``cc_num`` of the batch-version marker item in the batch group's table."""

PutStatus = Literal["written", "skipped", "failed"]
WriteMethod = Literal["transact", "put"]
DEFAULT_WRITE_METHOD: WriteMethod = "transact"


def is_reserved_key(cc_num: object) -> bool:
    """True for store metadata items (the batch-version marker), which are not cards."""
    return isinstance(cc_num, str) and cc_num.startswith(RESERVED_KEY_PREFIX)


@dataclass(frozen=True)
class PutOutcome:
    """What happened to one record of a multi-record put."""

    status: PutStatus
    error: str | None = None
    retryable: bool = False  # a transient service error, as opposed to a bad record


@dataclass
class PutSummary:
    """Counts of a multi-record put: written, skipped (a later item was already stored), failed."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def resolve_group(group: FeatureGroup | str) -> FeatureGroup:
    """A group from itself, its key ("stream"/"batch") or its default table name."""
    if isinstance(group, FeatureGroup):
        return group
    for candidate in FEATURE_GROUPS:
        if group in (candidate.key, Settings.model_fields[candidate.table_setting].default):
            return candidate
    raise KeyError(f"unknown feature group {group!r}; expected one of {[g.key for g in FEATURE_GROUPS]}")


def _event_time_text(value: object) -> str:
    """Event times are stored as messages-format text so that they compare lexicographically."""
    if isinstance(value, datetime):
        from fraudstream.messages import format_time

        return format_time(value)
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"event time must be a non-empty ISO string or datetime, got {value!r}")


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _stored_value(name: str, kind: type, value: Any) -> Any:
    """The value DynamoDB stores for a feature of ``kind``; None when missing (the attribute is left out).

    A double goes as the ``Decimal`` of its ``repr``, the shortest text that reads back as the same
    double, so a store round trip is exact (DynamoDB numbers cannot be NaN or infinite).
    """
    if value is None:
        return None
    if kind is str:
        return str(value)
    if kind is int:
        return int(value)
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"{name} is infinite")
    return Decimal(repr(number))


def to_item(group: FeatureGroup, record: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """DynamoDB item of ``record`` holding the identifier and the group's features (None is omitted)."""
    key_value = record.get(group.record_identifier)
    if not isinstance(key_value, str) or not key_value:
        raise ValueError(f"record has no {group.record_identifier!r}: {dict(record)!r}")
    if is_reserved_key(key_value):
        raise ValueError(f"{group.record_identifier} {key_value!r} is reserved for store metadata")
    values: dict[str, Any] = {group.record_identifier: key_value}
    for name, kind in group.features:
        value = record.get(name)
        values[name] = _event_time_text(value) if name == group.event_time_field else _stored_value(name, kind, value)
    try:
        return {name: _SERIALIZER.serialize(v) for name, v in values.items() if v is not None}
    except DecimalException as exc:  # beyond DynamoDB's 38 digits / exponent range
        raise ValueError(f"number DynamoDB cannot store: {exc!r}") from None


def from_item(group: FeatureGroup, item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Plain dict of a stored item, typed as the group declares (``int`` features as int, numbers as float)."""
    kinds = dict(group.features)
    out: dict[str, Any] = {}
    for name, attr in item.items():
        value = _DESERIALIZER.deserialize(attr)
        if isinstance(value, Decimal):
            value = int(value) if kinds.get(name) is int else float(value)
        out[name] = value
    return out


class DynamoFeatureStore:
    """Online store for the feature groups, through boto3 at the configured ``endpoint_url``."""

    def __init__(self, settings: Settings | None = None, client: Any = None) -> None:
        self.settings = settings or get_settings()
        self.client = client or store_client(self.settings)

    # ---------------------------------------------------------------- writes
    def _conditional(self, group: FeatureGroup, item: Mapping[str, Any]) -> dict[str, Any]:
        """The newer-wins condition of one put (the same for a single put and a transaction's item)."""
        return {
            "TableName": group.table_name(self.settings),
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#id) OR #et <= :et",
            "ExpressionAttributeNames": {"#id": group.record_identifier, "#et": group.event_time_field},
            "ExpressionAttributeValues": {":et": item[group.event_time_field]},
        }

    def _put_item(self, group: FeatureGroup, item: Mapping[str, Any]) -> bool:
        try:
            self.client.put_item(**self._conditional(group, item))
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put_record(self, group: FeatureGroup | str, record: Mapping[str, Any]) -> bool:
        """Conditional write; False when the stored item has a later event time (equal overwrites)."""
        group = resolve_group(group)
        return self._put_item(group, to_item(group, record))

    def _put_outcome(self, group: FeatureGroup, item: Mapping[str, Any]) -> PutOutcome:
        """One conditional put, its failure classified (bad record vs transient)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return PutOutcome("written" if self._put_item(group, item) else "skipped")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return PutOutcome("failed", f"{code}: {exc}", retryable=code != "ValidationException")
        except BotoCoreError as exc:
            return PutOutcome("failed", f"{type(exc).__name__}: {exc}", retryable=True)

    def put_many(
        self,
        group: FeatureGroup | str,
        records: Sequence[Mapping[str, Any]],
        method: WriteMethod | None = None,
    ) -> list[PutOutcome]:
        """Conditional puts of many records; one outcome per record, in order.

        ``method="transact"`` (the default): ``TransactWriteItems`` of up to 100 puts, cancelled items
        retried (see the module docstring); ``"put"``: one ``PutItem`` per record, ``PUT_WORKERS`` in
        parallel. Both give every record the outcome a single conditional put would have. Records of
        the same card are written in their order (a later one is never in flight with an earlier one).
        """
        group = resolve_group(group)
        outcomes: list[PutOutcome | None] = [None] * len(records)
        items: list[tuple[int, dict[str, Any]]] = []
        for index, record in enumerate(records):
            try:
                items.append((index, to_item(group, record)))
            except (ValueError, TypeError) as exc:
                outcomes[index] = PutOutcome("failed", f"bad record: {exc}")
        method = method or DEFAULT_WRITE_METHOD
        if method not in ("transact", "put"):
            raise ValueError(f"unknown write method {method!r}; expected 'transact' or 'put'")
        for wave in _waves(group, items):
            if method == "put" or len(wave) == 1:
                workers = min(PUT_WORKERS, len(wave))
                results = _map(workers, lambda entry: [(entry[0], self._put_outcome(group, entry[1]))], wave)
            else:
                chunks = [wave[i : i + TRANSACT_MAX_ITEMS] for i in range(0, len(wave), TRANSACT_MAX_ITEMS)]
                results = _map(min(TRANSACT_WORKERS, len(chunks)), lambda c: self._transact(group, c), chunks)
            for part in results:
                for index, outcome in part:
                    outcomes[index] = outcome
        return [o if o is not None else PutOutcome("failed", "not attempted", retryable=True) for o in outcomes]

    def _transact(self, group: FeatureGroup, chunk: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, PutOutcome]]:
        """One chunk (distinct keys, at most 100) through TransactWriteItems until every item has an outcome.

        Errors other than a cancellation have already been retried by botocore: they fail the rest of
        the chunk at once (retryable). A cancelled transaction names each item's reason; those cancelled
        only along with the others are sent again at once, transient ones after a backoff.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        def give_up(error: str) -> list[tuple[int, PutOutcome]]:
            return [*done, *((index, PutOutcome("failed", error, retryable=True)) for index, _ in pending)]

        done: list[tuple[int, PutOutcome]] = []
        pending = list(chunk)
        transient = 0
        while pending:
            if len(pending) == 1:  # a transaction of one is a conditional put
                index, item = pending[0]
                return [*done, (index, self._put_outcome(group, item))]
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Put": self._conditional(group, i)} for _, i in pending]
                )
                return [*done, *((index, PutOutcome("written")) for index, _ in pending)]
            except BotoCoreError as exc:  # network
                return give_up(f"{type(exc).__name__}: {exc}")
            except ClientError as exc:
                code, detail = exc.response.get("Error", {}).get("Code", ""), str(exc)
                error = f"{code}: {detail}"
                if code == "ValidationException":  # a record DynamoDB refuses: find it with single puts
                    return [*done, *((index, self._put_outcome(group, item)) for index, item in pending)]
                reasons = (
                    cancellation_reasons(exc.response, len(pending)) if code == "TransactionCanceledException" else None
                )
                if reasons is None:
                    return give_up(error)
            again = []
            for (index, item), reason in zip(pending, reasons, strict=True):
                if reason == "ConditionalCheckFailed":  # a later item is stored
                    done.append((index, PutOutcome("skipped")))
                elif reason == "ValidationError":
                    done.append((index, PutOutcome("failed", f"ValidationError: {detail}")))
                else:  # "None" (cancelled with the others), TransactionConflict, throttling
                    again.append((index, item))
            pending = again
            if all(r in ("None", "ConditionalCheckFailed", "ValidationError") for r in reasons) and len(again) < len(
                reasons
            ):
                continue  # nothing transient, and progress: send the rest at once
            transient += 1
            if transient >= TRANSACT_TRANSIENT_ATTEMPTS:
                return give_up(error)
            time.sleep(min(1.0, 0.02 * 2**transient) * (0.5 + random.random()))
        return done

    def put_records(
        self, group: FeatureGroup | str, records: Iterable[Mapping[str, Any]], method: WriteMethod | None = None
    ) -> PutSummary:
        """Conditional puts of many records (the nightly load); counts what was written/skipped/failed."""
        summary = PutSummary()
        for outcome in self.put_many(group, list(records), method=method):
            if outcome.status == "written":
                summary.written += 1
            elif outcome.status == "skipped":
                summary.skipped += 1
            else:
                summary.failed += 1
                if len(summary.errors) < 20:
                    summary.errors.append(outcome.error or "unknown error")
        return summary

    # ---------------------------------------------------------------- batch version
    def mark_batch_version(self, reason: str) -> str:
        """Record that the batch group changed: a new version in its marker item; returns the version.

        Call it *after* the batch group's items are written (the nightly load, replay seeding): a
        reader that sees the new version then reads the new items (reads are consistent). The
        version is unique per call, so every call invalidates the fraud-scorer's cache.
        """
        now = datetime.now(UTC)
        version = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
        from fraudstream.messages import format_time

        marker = {
            BATCH_GROUP.record_identifier: BATCH_VERSION_KEY,
            "version": version,
            "updated_at": format_time(now),
            "reason": reason or "unspecified",
        }
        self.client.put_item(
            TableName=BATCH_GROUP.table_name(self.settings),
            Item={k: _SERIALIZER.serialize(v) for k, v in marker.items()},
        )
        return version

    def batch_version_info(self) -> dict[str, str] | None:
        """The marker item (``version``, ``updated_at``, ``reason``), or None before the first mark."""
        response = self.client.get_item(
            TableName=BATCH_GROUP.table_name(self.settings),
            Key={BATCH_GROUP.record_identifier: {"S": BATCH_VERSION_KEY}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        return {k: _DESERIALIZER.deserialize(v) for k, v in item.items() if k != BATCH_GROUP.record_identifier}

    def read_batch_version(self) -> str | None:
        """The current batch version (one consistent GetItem), or None when no writer marked one yet."""
        response = self.client.get_item(
            TableName=BATCH_GROUP.table_name(self.settings),
            Key={BATCH_GROUP.record_identifier: {"S": BATCH_VERSION_KEY}},
            ConsistentRead=True,
            ProjectionExpression="#v",
            ExpressionAttributeNames={"#v": "version"},
        )
        value = (response.get("Item") or {}).get("version", {})
        return value.get("S")

    # ---------------------------------------------------------------- reads
    def get_record(self, group: FeatureGroup | str, cc_num: str) -> dict[str, Any] | None:
        """The stored features of one card (or merchant, for the merchant group) in one group, or None."""
        group = resolve_group(group)
        if is_reserved_key(cc_num):
            return None
        response = self.client.get_item(
            TableName=group.table_name(self.settings),
            Key={group.record_identifier: {"S": cc_num}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(group, item) if item else None

    def batch_get(
        self, cc_nums: Iterable[str], groups: Sequence[FeatureGroup] = CARD_GROUPS
    ) -> dict[str, dict[str, dict[str, Any] | None]]:
        """Features of several cards from every group of ``groups``: ``{cc_num: {group.key: item|None}}``."""
        cards = list(dict.fromkeys(cc_nums))
        found = self.batch_get_keys({group: cards for group in groups})
        return {c: {g.key: found[g.key][c] for g in groups} for c in cards}

    def batch_get_keys(self, keys: Mapping[FeatureGroup, Iterable[str]]) -> dict[str, dict[str, dict[str, Any] | None]]:
        """Items of several groups, each with its own keys (cards, merchants): ``{group.key: {key: item|None}}``.

        One BatchGetItem per 100 keys summed over the tables (every group in the same request), so
        the scorer reads the card item and the merchant item of a batch in one round trip;
        unprocessed keys are retried with backoff, requests beyond the first run concurrently.
        Reserved keys (store metadata) are never records: always None.
        """
        result: dict[str, dict[str, dict[str, Any] | None]] = {}
        wanted: list[tuple[FeatureGroup, str]] = []
        for group, group_keys in keys.items():
            distinct = list(dict.fromkeys(group_keys))
            result[group.key] = dict.fromkeys(distinct)
            wanted += [(group, k) for k in distinct if not is_reserved_key(k)]
        if not wanted:
            return result
        chunks = [wanted[i : i + BATCH_GET_MAX_KEYS] for i in range(0, len(wanted), BATCH_GET_MAX_KEYS)]
        by_table = {g.table_name(self.settings): g for g in keys}
        if len(chunks) == 1:
            responses = [self._batch_get_chunk(chunks[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(4, len(chunks))) as pool:
                responses = list(pool.map(self._batch_get_chunk, chunks))
        for found in responses:
            for table, items in found.items():
                group = by_table[table]
                for item in items:
                    record = from_item(group, item)
                    result[group.key][record[group.record_identifier]] = record
        return result

    def _batch_get_chunk(
        self, wanted: Sequence[tuple[FeatureGroup, str]], max_attempts: int = 8
    ) -> dict[str, list[dict]]:
        request: dict[str, dict[str, Any]] = {}
        for group, key in wanted:
            table = request.setdefault(group.table_name(self.settings), {"Keys": [], "ConsistentRead": True})
            table["Keys"].append({group.record_identifier: {"S": key}})
        found: dict[str, list[dict]] = {table: [] for table in request}
        for attempt in range(max_attempts):
            response = self.client.batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found[table].extend(items)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))
        raise RuntimeError(f"BatchGetItem left keys unprocessed after {max_attempts} attempts")

    def features_for(self, cc_num: str) -> dict[str, dict[str, Any] | None]:
        """The card groups' features for one card (the ``featurestore get`` command)."""
        return self.batch_get([cc_num])[cc_num]

    def scan_records(self, group: FeatureGroup | str) -> Iterator[dict[str, Any]]:
        """Every card's record of a group (a full, consistent Scan; reserved metadata items left out)."""
        group = resolve_group(group)
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(TableName=group.table_name(self.settings), ConsistentRead=True):
            for item in page.get("Items", []):
                if not is_reserved_key(item.get(group.record_identifier, {}).get("S")):
                    yield from_item(group, item)


def store_client(settings: Settings | None = None) -> Any:
    """The store's DynamoDB client: the shared retry policy and a pool big enough for parallel writes."""
    from botocore.config import Config

    from fraudstream.aws_clients import aws_client

    config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=MAX_POOL_CONNECTIONS)
    return aws_client("dynamodb", settings or get_settings(), config=config)


_REASONS_IN_MESSAGE = re.compile(r"\[([^\[\]]*)\]\s*$")


def cancellation_reasons(response: Mapping[str, Any], n_items: int) -> list[str] | None:
    """Per-item codes of a cancelled transaction (``"None"`` = cancelled with the others), or None if unknown.

    AWS returns ``CancellationReasons``; DynamoDB Local only lists the codes at the end of the error
    message (``... reasons [None, ConditionalCheckFailed]``), so both are read.
    """
    reasons = response.get("CancellationReasons")
    if isinstance(reasons, list) and len(reasons) == n_items:
        return [str((r or {}).get("Code") or "None") for r in reasons]
    match = _REASONS_IN_MESSAGE.search(str(response.get("Error", {}).get("Message", "")))
    if match:
        codes = [c.strip() or "None" for c in match.group(1).split(",")]
        if len(codes) == n_items:
            return codes
    return None


def _waves(group: FeatureGroup, items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """Items split so that a key occurs at most once per wave (a transaction may not touch an item twice);
    the n-th record of a key goes into wave n, so records of one card are written in their order."""
    waves: list[list[tuple[int, dict[str, Any]]]] = []
    seen: dict[str, int] = {}
    for entry in items:
        key = entry[1][group.record_identifier]["S"]
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(entry)
    return waves


def _map(workers: int, fn: Any, jobs: list[Any]) -> list[Any]:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, jobs))


def describe_feature_groups(settings: Settings | None = None, client: Any = None) -> list[dict[str, Any]]:
    """Declaration and live table state of every feature group (``featurestore describe``).

    ``item_count`` counts cards: the batch group's version marker is left out of DynamoDB's
    ``ItemCount`` (which AWS refreshes about every six hours) and shown as ``batch_version``.
    """
    settings = settings or get_settings()
    client = client or store_client(settings)
    store = DynamoFeatureStore(settings, client)
    out = []
    for group in FEATURE_GROUPS:
        table = group.table_name(settings)
        entry: dict[str, Any] = {
            "group": group.key,
            "table": table,
            "record_identifier": group.record_identifier,
            "event_time_field": group.event_time_field,
            "features": [{"name": f.name, "type": f.type_name} for f in group.features],
        }
        try:
            desc = client.describe_table(TableName=table)["Table"]
            count = desc.get("ItemCount")
            entry.update(status=desc.get("TableStatus"), item_count=count)
            if group is BATCH_GROUP:
                marker = store.batch_version_info()
                entry["batch_version"] = marker
                if marker is not None and isinstance(count, int):
                    entry["item_count"] = max(0, count - 1)
        except client.exceptions.ResourceNotFoundException:
            entry.update(status="MISSING", item_count=None)
        out.append(entry)
    return out


__all__ = [
    "BATCH_GROUP",
    "BATCH_VERSION_KEY",
    "MERCHANT_GROUP",
    "STREAM_GROUP",
    "DynamoFeatureStore",
    "PutOutcome",
    "PutSummary",
    "cancellation_reasons",
    "describe_feature_groups",
    "from_item",
    "is_reserved_key",
    "resolve_group",
    "store_client",
    "to_item",
]
