"""The AWS Lambda event for an Amazon MSK / Kafka event source, built and parsed in one place.

Documented shape (AWS Lambda developer guide, "Using Lambda with Amazon MSK")::

    {"eventSource": "aws:kafka",
     "eventSourceArn": "arn:aws:kafka:...:cluster/...",
     "bootstrapServers": "b-1...:9092,b-2...:9092",
     "records": {"mytopic-0": [{"topic": "mytopic", "partition": 0, "offset": 15,
                                "timestamp": 1545084650987, "timestampType": "CREATE_TIME",
                                "key": "<base64>", "value": "<base64>",
                                "headers": [{"headerKey": [104, 101, ...]}]}]}}

Records are grouped by ``"<topic>-<partition>"`` and ordered by offset inside a group; a batch may
hold several partitions. The handlers answer ``{"batchItemFailures": [...]}``; each item's
``itemIdentifier`` names a failed record as ``{"topic-partition": "<topic>-<partition>", "offset": N}``,
the shape Lambda's Kafka partial batch response uses (a bare offset is accepted too when the batch
holds a single partition).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EVENT_SOURCE = "aws:kafka"
TIMESTAMP_TYPES = {0: "NO_TIMESTAMP_TYPE", 1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}
"""confluent-kafka timestamp type codes → the Java enum names Lambda uses."""
TopicPartitionKey = tuple[str, int]
"""``(topic, partition)``: a partition as the code keys it."""


@dataclass(frozen=True)
class KafkaRecord:
    """One record of an MSK event, with key and value decoded from base64."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)

    @property
    def topic_partition(self) -> TopicPartitionKey:
        """``(topic, partition)``: how the code keys a partition (strings only at the event's edge)."""
        return (self.topic, self.partition)

    @property
    def partition_key(self) -> str:
        """The event's ``records`` map key and failure identifier of this record: ``"<topic>-<partition>"``."""
        return f"{self.topic}-{self.partition}"


def local_event_source_arn(region: str, cluster: str = "fraudstream-local") -> str:
    """A cluster ARN for the local broker (the runner has no real MSK cluster)."""
    return f"arn:aws:kafka:{region}:000000000000:cluster/{cluster}/00000000-0000-0000-0000-000000000000-1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def record_to_json(record: KafkaRecord) -> dict[str, Any]:
    """One record in the event's JSON form (key omitted when the Kafka key is null)."""
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "timestampType": record.timestamp_type,
    }
    if record.key is not None:
        out["key"] = _b64(record.key)
    out["value"] = _b64(record.value) if record.value is not None else None
    out["headers"] = [{k: list(v or b"")} for k, v in record.headers]
    return out


def build_event(records: Iterable[KafkaRecord], event_source_arn: str, bootstrap_servers: str) -> dict[str, Any]:
    """The Lambda MSK event for ``records`` (grouped by topic-partition, ordered by offset)."""
    grouped: dict[str, list[KafkaRecord]] = {}
    for record in records:
        grouped.setdefault(record.partition_key, []).append(record)
    return {
        "eventSource": EVENT_SOURCE,
        "eventSourceArn": event_source_arn,
        "bootstrapServers": bootstrap_servers,
        "records": {
            key: [record_to_json(r) for r in sorted(group, key=lambda r: r.offset)] for key, group in grouped.items()
        },
    }


def from_confluent(message: Any) -> KafkaRecord:
    """A :class:`KafkaRecord` from a confluent-kafka ``Message``."""
    ts_type, ts = message.timestamp()
    return KafkaRecord(
        topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        timestamp=int(ts) if ts is not None and ts >= 0 else -1,
        timestamp_type=TIMESTAMP_TYPES.get(ts_type, "NO_TIMESTAMP_TYPE"),
        key=message.key(),
        value=message.value(),
        headers=tuple((k, v if v is not None else b"") for k, v in (message.headers() or [])),
    )


class EventFormatError(ValueError):
    """The event is not an MSK event (the whole invocation fails; nothing is acknowledged)."""


def parse_event(event: Mapping[str, Any]) -> list[KafkaRecord]:
    """All records of an MSK event, every partition, in event order.

    A record whose key/value is not valid base64 keeps the raw text as bytes so that the handler
    can dead-letter it with its payload instead of failing the batch.
    """
    if not isinstance(event, Mapping) or event.get("eventSource") != EVENT_SOURCE:
        raise EventFormatError(
            f"not an MSK event (eventSource={event.get('eventSource') if isinstance(event, Mapping) else event!r})"
        )
    records_map = event.get("records")
    if not isinstance(records_map, Mapping):
        raise EventFormatError("MSK event has no 'records' object")
    out: list[KafkaRecord] = []
    for group_key, group in records_map.items():
        if not isinstance(group, Sequence):
            raise EventFormatError(f"records[{group_key!r}] is not a list")
        for raw in group:
            out.append(_parse_record(raw))
    return out


def _decode_b64(text: Any) -> bytes | None:
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return str(text).encode("utf-8", errors="backslashreplace")


def _parse_record(raw: Mapping[str, Any]) -> KafkaRecord:
    try:
        headers = tuple((k, bytes(v)) for h in raw.get("headers") or [] for k, v in h.items())
        return KafkaRecord(
            topic=str(raw["topic"]),
            partition=int(raw["partition"]),
            offset=int(raw["offset"]),
            timestamp=int(raw.get("timestamp", -1)),
            timestamp_type=str(raw.get("timestampType", "NO_TIMESTAMP_TYPE")),
            key=_decode_b64(raw.get("key")),
            value=_decode_b64(raw.get("value")),
            headers=headers,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EventFormatError(f"malformed MSK record {raw!r}: {exc}") from None


# ---------------------------------------------------------------------------- partial failures
def failure_item(record: KafkaRecord) -> dict[str, Any]:
    """A ``batchItemFailures`` entry naming ``record`` by topic-partition and offset."""
    return {"itemIdentifier": {"topic-partition": record.partition_key, "offset": record.offset}}


def batch_response(failed: Iterable[KafkaRecord]) -> dict[str, list[dict[str, Any]]]:
    """The handler's answer: empty list = whole batch succeeded."""
    return {"batchItemFailures": [failure_item(r) for r in failed]}


def first_failed_offsets(response: Any, records: Sequence[KafkaRecord]) -> dict[TopicPartitionKey, int]:
    """``{(topic, partition): first failed offset}`` from a handler answer.

    Lambda's rule: re-deliver every partition from its lowest failed offset. A bare-offset
    identifier (Kinesis style) is applied to every partition of the batch that holds that offset.
    Raises ``ValueError`` for an identifier that is empty or names no record of the batch, which
    the runner treats as a failure of the whole batch (as Lambda does).
    """
    if not isinstance(response, Mapping):
        return {}
    items = response.get("batchItemFailures") or []
    held: dict[str, set[int]] = {}  # by the identifier's "<topic>-<partition>" text
    partition_of: dict[str, TopicPartitionKey] = {}
    for r in records:
        held.setdefault(r.partition_key, set()).add(r.offset)
        partition_of[r.partition_key] = r.topic_partition
    first: dict[TopicPartitionKey, int] = {}
    for item in items:
        ident = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if isinstance(ident, Mapping):
            targets = [(str(ident.get("topic-partition")), ident.get("offset"))]
        elif ident not in (None, ""):
            targets = [(key, ident) for key in held]
        else:
            raise ValueError(f"batch item failure without an identifier: {item!r}")
        matched = False
        for key, offset in targets:
            try:
                offset = int(offset)
            except (TypeError, ValueError):
                raise ValueError(f"bad offset in batch item failure {item!r}") from None
            if offset in held.get(key, ()):
                tp = partition_of[key]
                first[tp] = min(first.get(tp, offset), offset)
                matched = True
        if not matched:
            raise ValueError(f"batch item failure names no record of the batch: {item!r}")
    return first


def iter_partitions(records: Iterable[KafkaRecord]) -> Iterator[tuple[TopicPartitionKey, list[KafkaRecord]]]:
    """Records grouped by ``(topic, partition)``, offset order kept."""
    grouped: dict[TopicPartitionKey, list[KafkaRecord]] = {}
    for r in records:
        grouped.setdefault(r.topic_partition, []).append(r)
    yield from grouped.items()
