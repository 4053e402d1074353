"""Bad records on ``cc-agg`` through the agg-writer on real Kafka and DynamoDB Local.

Each bad record gets a dead letter naming the reason, the good records of the same batch are
written, and the batch is acknowledged (no item failure: the pipeline keeps running). Documented
outcomes (docs/operations.md): the agg-writer keys by the value's ``cc_num``, so a non-UTF-8 Kafka
key on a valid record is ignored; a duplicate ``tid`` (an identical copy) is an idempotent
overwrite of the same item.
"""

from __future__ import annotations

import time
import uuid

import pytest

from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.groups import STREAM_GROUP
from fraudstream.handlers import agg_writer
from fraudstream.handlers.msk_event import build_event, from_confluent
from fraudstream.handlers.resources import HandlerResources
from fraudstream.messages import CardAggregate, DeadLetter, decode, encode

pytestmark = pytest.mark.integration
A, B = "4000000000000011", "4000000000000012"
NESTING_BOMB = b"[" * 20_000  # RecursionError in the JSON parser: before, it escaped and the batch was retried forever
HUGE_FIELD = b'{"tid": "t-huge", "cc_num": "' + b"9" * 1_000_000 + b'"}'  # a 1 MB field, under Kafka's 1 MiB cap


def _agg(tid: str, card: str, amount: float) -> CardAggregate:
    return CardAggregate(
        tid=tid,
        cc_num=card,
        amount=amount,
        trans_time="2020-03-02T10:05:00.000Z",
        num_trans_last_10m=1,
        avg_amt_last_10m=amount,
        max_amt_last_10m=amount,
    )


def _read(settings, topic: str, expected: int, timeout: float = 60.0) -> list:
    from confluent_kafka import Consumer

    from fraudstream.kafka_clients import consumer_config

    consumer = Consumer(
        {**consumer_config(f"badinput-{uuid.uuid4().hex}", settings), "fetch.message.max.bytes": 2_000_000}
    )
    consumer.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out += [m for m in consumer.consume(num_messages=500, timeout=0.5) if m.error() is None]
    finally:
        consumer.close()
    return out


def test_bad_cc_agg_records_dead_letter_and_the_batch_goes_on(isolated_settings) -> None:
    from confluent_kafka import Producer

    from fraudstream.kafka_clients import producer_config

    s = isolated_settings
    good, dup = _agg("t-a", A, 12.5), _agg("t-a", A, 12.5)
    bad = {b"not json at all": "decode", b"\xff\xfe\x00garbage": "decode", HUGE_FIELD: "decode", NESTING_BOMB: "decode"}
    producer = Producer({**producer_config(s), "message.max.bytes": 2_000_000})
    items = [
        (A.encode(), encode(good)),
        *((b"poison", value) for value in bad),
        (b"\xff\xfe\x80", encode(_agg("t-b", B, 3.0))),  # non-UTF-8 key, valid value
        (A.encode(), encode(dup)),  # duplicate tid, identical copy
    ]
    for key, value in items:
        producer.produce(s.topic_agg, key=key, value=value, partition=0)
    assert producer.flush(30) == 0

    records = [from_confluent(m) for m in _read(s, s.topic_agg, len(items))]
    assert len(records) == len(items)
    event = build_event(records, "arn:aws:kafka:us-east-1:000000000000:cluster/t/x", s.kafka_bootstrap)
    assert agg_writer.handle(event, None, HandlerResources(s)) == {"batchItemFailures": []}

    letters = [decode(DeadLetter, m.value()) for m in _read(s, s.topic_dead_letter, len(bad))]
    assert len(letters) == len(bad)
    assert all(letter.stage == "agg-writer" and letter.error.startswith("decode:") for letter in letters)
    huge = [letter for letter in letters if "truncated" in letter.error]
    assert len(huge) == 1 and len(huge[0].payload) <= 64 * 1024  # the dead letter itself fits on the topic
    assert all(len(m.value()) < 1_000_000 for m in _read(s, s.topic_dead_letter, len(bad)))

    store = DynamoFeatureStore(s)
    stored_a, stored_b = store.get_record(STREAM_GROUP, A), store.get_record(STREAM_GROUP, B)
    assert stored_a is not None and float(stored_a["avg_amt_last_10m"]) == 12.5
    assert stored_b is not None and float(stored_b["avg_amt_last_10m"]) == 3.0  # the key is not used

    # a replay of the whole batch (redelivery) changes nothing: same item, same dead-letter count per record
    assert agg_writer.handle(event, None, HandlerResources(s)) == {"batchItemFailures": []}
    assert store.get_record(STREAM_GROUP, A) == stored_a
