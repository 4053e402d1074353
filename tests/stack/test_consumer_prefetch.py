"""A consumer that falls behind reads ahead a bounded amount (``kafka_clients.PREFETCH_LIMITS``)."""

import json
import os
import time

import pytest

from fraudstream.kafka_clients import bulk_fetch, consumer_config, producer_config
from fraudstream.settings import Settings

pytestmark = pytest.mark.integration

BACKLOG = 200_000
VALUE_BYTES = 300  # random: lz4 leaves them as large in the fetch as in the queue


def _queued_bytes(settings: Settings, topic: str, **overrides) -> int:
    """Largest local fetch queue (bytes, summed over partitions) of a consumer that reads one record
    of a backlog and then leaves it alone for a few seconds, from librdkafka's statistics."""
    from confluent_kafka import Consumer

    seen: list[int] = []

    def on_stats(raw: str) -> None:
        parts = json.loads(raw)["topics"].get(topic, {}).get("partitions", {})
        seen.append(sum(p["fetchq_size"] for key, p in parts.items() if key != "-1"))

    cfg = consumer_config(f"prefetch-{time.time_ns()}", settings, **overrides)
    consumer = Consumer({**cfg, "statistics.interval.ms": 500, "stats_cb": on_stats})
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while consumer.poll(0.5) is None:
            assert time.monotonic() < deadline, "no record of the backlog arrived"
        end = time.monotonic() + 4
        while time.monotonic() < end:  # a slow application: librdkafka prefetches meanwhile
            consumer.poll(0.0)  # serves the statistics callback; reads at most one record
            time.sleep(0.25)
    finally:
        consumer.close()
    return max(seen, default=0)


def test_a_lagging_consumer_prefetches_a_bounded_amount(isolated_topics: Settings) -> None:
    from confluent_kafka import Producer

    settings = isolated_topics
    topic = settings.topic_predictions
    producer = Producer(producer_config(settings, **{"linger.ms": 50}))
    for i in range(BACKLOG):
        while True:
            try:
                producer.produce(topic, os.urandom(VALUE_BYTES), key=str(i).encode())
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(30) == 0

    backlog = BACKLOG * VALUE_BYTES
    bounded = _queued_bytes(settings, topic)
    bulk = _queued_bytes(settings, topic, **bulk_fetch(250))
    defaults = {"queued.max.messages.kbytes": 65536, "queued.min.messages": 100_000}  # librdkafka's own
    unbounded = _queued_bytes(settings, topic, **defaults)
    assert bounded < backlog / 3, (bounded, backlog)
    assert bulk < backlog / 3, (bulk, backlog)
    assert unbounded > backlog * 2 / 3, (unbounded, backlog)  # the defaults read the backlog ahead
