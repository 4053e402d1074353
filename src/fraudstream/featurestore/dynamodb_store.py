"""The online feature store on DynamoDB: conditional newer-wins puts and one-round-trip batch reads.

Every item carries its group's event time (an ISO string in the messages format, so it orders as
text). A put is a conditional write that refuses to replace an item with a *later* event time;
an equal event time overwrites, so replays are idempotent and out-of-order deliveries never move
a feature back in time.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fraudstream.featurestore.groups import BATCH_GROUP, FEATURE_GROUPS, STREAM_GROUP, FeatureGroup
from fraudstream.settings import Settings, get_settings

BATCH_GET_MAX_KEYS = 100
"""DynamoDB's BatchGetItem limit on keys per request (summed over tables)."""

PUT_WORKERS = 8
"""Concurrent conditional puts in ``put_records`` (boto3 clients are thread-safe)."""

PutStatus = Literal["written", "skipped", "failed"]


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


def to_item(group: FeatureGroup, record: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """DynamoDB item of ``record`` holding the identifier and the group's features (None is omitted)."""
    key_value = record.get(group.record_identifier)
    if not isinstance(key_value, str) or not key_value:
        raise ValueError(f"record has no {group.record_identifier!r}: {dict(record)!r}")
    item: dict[str, dict[str, str]] = {group.record_identifier: {"S": key_value}}
    for name, kind in group.features:
        value = record.get(name)
        if name == group.event_time_field:
            item[name] = {"S": _event_time_text(value)}
            continue
        if value is None:
            continue
        if kind == "string":
            item[name] = {"S": str(value)}
        elif kind == "int":
            item[name] = {"N": str(int(value))}
        else:
            number = float(value)
            if math.isnan(number):
                continue  # missing; DynamoDB numbers cannot be NaN
            if math.isinf(number):
                raise ValueError(f"{name} is infinite")
            item[name] = {"N": repr(number)}
    return item


def from_item(group: FeatureGroup, item: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """Plain dict of a stored item, typed as the group declares."""
    kinds = dict(group.features)
    out: dict[str, Any] = {}
    for name, attr in item.items():
        kind = kinds.get(name, "string")
        if "S" in attr:
            out[name] = attr["S"]
        elif "N" in attr:
            out[name] = int(attr["N"]) if kind == "int" else float(attr["N"])
    return out


class DynamoFeatureStore:
    """Online store for the feature groups, through boto3 at the configured ``endpoint_url``."""

    def __init__(self, settings: Settings | None = None, client: Any = None) -> None:
        from fraudstream.aws_clients import dynamodb_client

        self.settings = settings or get_settings()
        self.client = client or dynamodb_client(self.settings)

    # ---------------------------------------------------------------- writes
    def put_record(self, group: FeatureGroup | str, record: Mapping[str, Any]) -> bool:
        """Conditional write; False when the stored item has a later event time (equal overwrites)."""
        group = resolve_group(group)
        item = to_item(group, record)
        try:
            self.client.put_item(
                TableName=group.table_name(self.settings),
                Item=item,
                ConditionExpression="attribute_not_exists(#id) OR #et <= :et",
                ExpressionAttributeNames={"#id": group.record_identifier, "#et": group.event_time_field},
                ExpressionAttributeValues={":et": item[group.event_time_field]},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put_many(self, group: FeatureGroup | str, records: Sequence[Mapping[str, Any]]) -> list[PutOutcome]:
        """Conditional puts of many records concurrently; one outcome per record, in order."""
        group = resolve_group(group)
        if not records:
            return []

        def one(record: Mapping[str, Any]) -> PutOutcome:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return PutOutcome("written" if self.put_record(group, record) else "skipped")
            except (ValueError, TypeError) as exc:
                return PutOutcome("failed", f"bad record: {exc}")
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                return PutOutcome("failed", f"{code}: {exc}", retryable=code != "ValidationException")
            except BotoCoreError as exc:
                return PutOutcome("failed", f"{type(exc).__name__}: {exc}", retryable=True)

        if len(records) == 1:
            return [one(records[0])]
        with ThreadPoolExecutor(max_workers=min(PUT_WORKERS, len(records))) as pool:
            return list(pool.map(one, records))

    def put_records(self, group: FeatureGroup | str, records: Iterable[Mapping[str, Any]]) -> PutSummary:
        """Conditional puts of many records (the nightly load); counts what was written/skipped/failed."""
        summary = PutSummary()
        for outcome in self.put_many(group, list(records)):
            if outcome.status == "written":
                summary.written += 1
            elif outcome.status == "skipped":
                summary.skipped += 1
            else:
                summary.failed += 1
                if len(summary.errors) < 20:
                    summary.errors.append(outcome.error or "unknown error")
        return summary

    # ---------------------------------------------------------------- reads
    def get_record(self, group: FeatureGroup | str, cc_num: str) -> dict[str, Any] | None:
        """The stored features of one card in one group, or None."""
        group = resolve_group(group)
        response = self.client.get_item(
            TableName=group.table_name(self.settings),
            Key={group.record_identifier: {"S": cc_num}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(group, item) if item else None

    def batch_get(
        self, cc_nums: Iterable[str], groups: Sequence[FeatureGroup] = FEATURE_GROUPS
    ) -> dict[str, dict[str, dict[str, Any] | None]]:
        """Features of several cards from every group of ``groups``: ``{cc_num: {group.key: item|None}}``.

        One BatchGetItem per 100 keys (both groups in the same request), unprocessed keys retried
        with backoff. Requests beyond the first run concurrently, so a 100-card read of both groups
        costs about one round trip.
        """
        cards = list(dict.fromkeys(cc_nums))
        result: dict[str, dict[str, dict[str, Any] | None]] = {c: {g.key: None for g in groups} for c in cards}
        if not cards or not groups:
            return result
        per_request = max(1, BATCH_GET_MAX_KEYS // len(groups))
        chunks = [cards[i : i + per_request] for i in range(0, len(cards), per_request)]
        by_table = {g.table_name(self.settings): g for g in groups}
        if len(chunks) == 1:
            responses = [self._batch_get_chunk(chunks[0], by_table)]
        else:
            with ThreadPoolExecutor(max_workers=min(4, len(chunks))) as pool:
                responses = list(pool.map(lambda c: self._batch_get_chunk(c, by_table), chunks))
        for found in responses:
            for table, items in found.items():
                group = by_table[table]
                for item in items:
                    record = from_item(group, item)
                    result[record[group.record_identifier]][group.key] = record
        return result

    def _batch_get_chunk(
        self, cards: Sequence[str], by_table: Mapping[str, FeatureGroup], max_attempts: int = 8
    ) -> dict[str, list[dict]]:
        request = {
            table: {"Keys": [{g.record_identifier: {"S": c}} for c in cards], "ConsistentRead": True}
            for table, g in by_table.items()
        }
        found: dict[str, list[dict]] = {table: [] for table in by_table}
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
        """Both groups' features for one card (the ``featurestore get`` command)."""
        return self.batch_get([cc_num])[cc_num]


def describe_feature_groups(settings: Settings | None = None, client: Any = None) -> list[dict[str, Any]]:
    """Declaration and live table state of every feature group (``featurestore describe``)."""
    from fraudstream.aws_clients import dynamodb_client

    settings = settings or get_settings()
    client = client or dynamodb_client(settings)
    out = []
    for group in FEATURE_GROUPS:
        table = group.table_name(settings)
        entry: dict[str, Any] = {
            "group": group.key,
            "table": table,
            "record_identifier": group.record_identifier,
            "event_time_field": group.event_time_field,
            "features": [{"name": n, "type": t} for n, t in group.features],
        }
        try:
            desc = client.describe_table(TableName=table)["Table"]
            entry.update(status=desc.get("TableStatus"), item_count=desc.get("ItemCount"))
        except client.exceptions.ResourceNotFoundException:
            entry.update(status="MISSING", item_count=None)
        out.append(entry)
    return out


__all__ = [
    "BATCH_GROUP",
    "STREAM_GROUP",
    "DynamoFeatureStore",
    "PutOutcome",
    "PutSummary",
    "describe_feature_groups",
    "from_item",
    "resolve_group",
    "to_item",
]
