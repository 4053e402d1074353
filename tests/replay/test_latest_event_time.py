"""latest_event_time on a real topic that the stream clock keeps writing heartbeats to."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from fraudstream.kafka_clients import producer_config
from fraudstream.messages import Heartbeat, Transaction, encode
from fraudstream.replay.runner import latest_event_time
from fraudstream.settings import Settings

pytestmark = pytest.mark.integration
CARD = "4300000000009001"


def test_newest_transaction_behind_many_heartbeats_and_while_the_clock_writes(isolated_topics: Settings) -> None:
    settings = isolated_topics
    topic = settings.topic_transactions
    producer = Producer(producer_config(settings, **{"linger.ms": 20, "queue.buffering.max.messages": 1_000_000}))
    base = datetime(2024, 5, 1, 12, tzinfo=UTC)
    newest = base + timedelta(minutes=7)
    for i, when in enumerate((base, newest, base + timedelta(minutes=3))):  # not in time order on purpose
        tx = Transaction(tid=f"let-{i}", cc_num=CARD, amount=5.0, trans_time=when)
        producer.produce(topic, key=CARD.encode(), value=encode(tx))
    beat = encode(Heartbeat(trans_time=datetime.now(UTC), clock="test", seq=0))
    for partition in range(settings.partitions):  # far more heartbeats after them than the lookback
        for _ in range(30_000):
            producer.produce(topic, partition=partition, value=beat)
        producer.poll(0)
    assert producer.flush(60) == 0

    # a clock still beating while the answer is read: the partitions never reach their end
    stop_at = time.monotonic() + 30
    started = time.monotonic()
    answer = None

    def beating() -> None:
        while time.monotonic() < stop_at and answer is None:
            for partition in range(settings.partitions):
                producer.produce(topic, partition=partition, value=beat)
            producer.poll(0.02)

    clock = threading.Thread(target=beating, daemon=True)
    clock.start()
    answer = latest_event_time(settings, lookback=100, timeout=5.0)
    took = time.monotonic() - started
    clock.join()
    producer.flush(10)

    assert answer == newest
    assert took < 4 * 5.0  # it stops at the end each partition had when asked, not at a timeout


def test_a_topic_of_heartbeats_only_has_no_latest_event_time(isolated_topics: Settings) -> None:
    settings = isolated_topics
    producer = Producer(producer_config(settings))
    beat = encode(Heartbeat(trans_time=datetime(2024, 5, 1, 12, tzinfo=UTC), clock="t", seq=1))
    for partition in range(settings.partitions):
        producer.produce(settings.topic_transactions, partition=partition, value=beat)
    assert producer.flush(10) == 0
    assert latest_event_time(settings, lookback=10, timeout=5.0) is None
