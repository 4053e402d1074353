"""agg-writer: ``cc-agg`` records → the ``cc-agg-fg`` feature group (newer-wins conditional puts).

Within a batch only the newest aggregate of each card is written (the older ones would lose the
conditional put anyway), which divides the DynamoDB writes by the number of records per card.
The writes are conditional puts grouped into ``TransactWriteItems`` of up to 100
(``DynamoFeatureStore.put_many``): each record gets the outcome its own conditional put would
have had — an equal event time overwrites, a later stored event time is never replaced — at
about a tenth of the round trips (DynamoDB Local: ~10x the items/s of parallel single puts,
``benchmarks/bench_agg_writer.py``). Records are read by the fast ``cc-agg`` decoder
(``fraudstream.featurestore.aggregates``; the strict decoder decides the rest).
Undecodable records and records DynamoDB rejects as invalid go to ``dead-letter``; a transient
store failure reports the card's first offset as a batch item failure, so that partition is
re-delivered from there (the writes are idempotent).
"""

from __future__ import annotations

import logging
from typing import Any

from fraudstream.dead_letter import DeadLetterPublisher
from fraudstream.featurestore.aggregates import Aggregate, decode_aggregate
from fraudstream.featurestore.groups import STREAM_GROUP
from fraudstream.handlers.msk_event import KafkaRecord, batch_response, parse_event
from fraudstream.handlers.resources import DeliveryTracker, HandlerResources, default_resources
from fraudstream.messages import DecodeError

STAGE = "agg-writer"
log = logging.getLogger(__name__)


def handle(event: dict[str, Any], context: Any = None, resources: HandlerResources | None = None) -> dict[str, Any]:
    """Lambda handler body: returns ``{"batchItemFailures": [...]}``."""
    res = resources or default_resources()
    records = parse_event(event)
    rejects: list[tuple[KafkaRecord, str]] = []

    newest: dict[str, tuple[Aggregate, KafkaRecord]] = {}
    first_offset_of_card: dict[str, KafkaRecord] = {}
    for record in records:
        try:
            agg = decode_aggregate(record.value)  # trans_time as canonical text: orders as time
        except DecodeError as exc:
            rejects.append((record, f"decode: {exc}"))
            continue
        first = first_offset_of_card.get(agg.cc_num)
        if first is None or record.offset < first.offset:
            first_offset_of_card[agg.cc_num] = record
        current = newest.get(agg.cc_num)
        if current is None or (agg.trans_time, record.offset) >= (current[0].trans_time, current[1].offset):
            newest[agg.cc_num] = (agg, record)

    winners = list(newest.values())
    outcomes = res.store.put_many(STREAM_GROUP, [agg.store_record() for agg, _ in winners])
    failed: list[KafkaRecord] = []
    for (agg, record), outcome in zip(winners, outcomes, strict=True):
        if outcome.status != "failed":
            continue
        if outcome.retryable:
            failed.append(first_offset_of_card[agg.cc_num])
        else:
            rejects.append((record, f"store: {outcome.error}"))
    # records from a partition's first failure on come again: dead-letter them then, not twice
    redelivered_from: dict[tuple[str, int], int] = {}
    for r in failed:
        redelivered_from[r.topic_partition] = min(r.offset, redelivered_from.get(r.topic_partition, r.offset))
    tracker = DeliveryTracker()
    dead = DeadLetterPublisher(res.producer, res.settings)
    for rejected, reason in rejects:
        if rejected.offset >= redelivered_from.get(rejected.topic_partition, rejected.offset + 1):
            continue
        dead.reject(STAGE, rejected, reason, tracker)
    res.flush(tracker)
    if failed:
        log.warning("agg-writer: %d cards failed transiently; their partitions will be re-delivered", len(failed))
    return batch_response(failed)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point (resources reused across warm invocations)."""
    return handle(event, context)
