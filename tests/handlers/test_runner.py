"""The local runner against a real broker: the MSK event it builds, commits, partial failures, retries."""

from __future__ import annotations

import base64
import re
import threading
import time

import pytest

from fraudstream.handlers.msk_event import KafkaRecord, batch_response, parse_event
from fraudstream.handlers.runner import HandlerRunner

pytestmark = pytest.mark.integration

RECORD_FIELDS = {"topic", "partition", "offset", "timestamp", "timestampType", "key", "value", "headers"}


def committed(settings, group: str, topic: str, partitions: int) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config

    consumer = Consumer(consumer_config(group, settings))
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        consumer.close()


def run_until(runner: HandlerRunner, done, timeout: float = 30.0) -> None:
    """Run the runner in a thread until ``done()`` holds, then stop it gracefully."""
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop_event.set()
        thread.join(30)
    assert not thread.is_alive()
    assert done(), "runner did not reach the expected state in time"


def test_event_matches_the_documented_msk_shape(isolated_topics, kafka_io) -> None:
    s = isolated_topics
    kafka_io.produce(s.topic_agg, [(b"card-2", b'{"p": 2}')], partition=2, headers=[("trace", b"abc"), ("n", b"\x01")])
    kafka_io.produce(s.topic_agg, [(None, b'{"p": 0}')], partition=0, timestamp=1545084650987)
    events: list[dict] = []

    def capture(event, context, resources):
        events.append(event)
        assert context.function_name == "agg-writer" and context.get_remaining_time_in_millis() > 0
        return {"batchItemFailures": []}

    runner = HandlerRunner("agg-writer", s, batch_size=10, max_wait_ms=1500, invoke=capture)
    run_until(runner, lambda: sum(len(r) for e in events for r in e["records"].values()) >= 2)

    event = (
        events[0]
        if len(events) == 1
        else {**events[0], "records": {k: v for e in events for k, v in e["records"].items()}}
    )
    assert set(event) == {"eventSource", "eventSourceArn", "bootstrapServers", "records"}
    assert event["eventSource"] == "aws:kafka"
    assert re.fullmatch(r"arn:aws:kafka:[a-z0-9-]+:\d{12}:cluster/[^/]+/[0-9a-f-]+", event["eventSourceArn"])
    assert event["bootstrapServers"] == s.kafka_bootstrap
    assert set(event["records"]) == {f"{s.topic_agg}-2", f"{s.topic_agg}-0"}

    p2 = event["records"][f"{s.topic_agg}-2"][0]
    assert set(p2) == RECORD_FIELDS
    # cc-agg is a log-append-time topic (every hop's time is on the records: kafka_clients.topic_config)
    assert (p2["topic"], p2["partition"], p2["offset"], p2["timestampType"]) == (s.topic_agg, 2, 0, "LOG_APPEND_TIME")
    assert isinstance(p2["timestamp"], int) and abs(p2["timestamp"] - time.time() * 1000) < 120_000
    assert base64.b64decode(p2["key"]) == b"card-2" and base64.b64decode(p2["value"]) == b'{"p": 2}'
    assert p2["headers"] == [{"trace": [97, 98, 99]}, {"n": [1]}]

    p0 = event["records"][f"{s.topic_agg}-0"][0]
    # the producer's own timestamp is replaced by the broker's append time on a log-append-time topic
    assert "key" not in p0 and p0["timestamp"] != 1545084650987 and p0["headers"] == []
    # committed after success: the group resumes past both records
    assert committed(s, runner.group_id, s.topic_agg, s.partitions) == {0: 1, 1: -1001, 2: 1, 3: -1001}


def test_partial_failure_redelivers_from_first_failed_offset_and_exceptions_retry(isolated_topics, kafka_io) -> None:
    s = isolated_topics
    kafka_io.produce(s.topic_agg, [(b"a", f"p1-{i}".encode()) for i in range(6)], partition=1)
    kafka_io.produce(s.topic_agg, [(b"b", f"p3-{i}".encode()) for i in range(3)], partition=3)
    seen: list[tuple[int, int]] = []
    calls = {"n": 0}

    def flaky(event, context, resources):
        calls["n"] += 1
        records = parse_event(event)
        if calls["n"] == 1:
            raise RuntimeError("endpoint down")  # whole batch fails: nothing committed, all re-delivered
        seen.extend((r.partition, r.offset) for r in records)
        failing = [r for r in records if (r.partition, r.offset) in {(1, 3), (1, 5)} and seen.count((1, 3)) == 1]
        return batch_response(failing)

    runner = HandlerRunner("agg-writer", s, batch_size=100, max_wait_ms=1000, invoke=flaky)
    run_until(
        runner, lambda: committed(s, runner.group_id, s.topic_agg, s.partitions) == {0: -1001, 1: 6, 2: -1001, 3: 3}
    )

    assert calls["n"] >= 3 and runner.stats.failed_batches == 1 and runner.stats.partial_failures == 1
    # partition 1 came again from offset 3 (the lowest failed offset), partition 3 did not come again
    assert sorted(o for p, o in seen if p == 1) == [0, 1, 2, 3, 3, 4, 4, 5, 5]
    assert sorted(o for p, o in seen if p == 3) == [0, 1, 2]


def test_sigterm_style_stop_finishes_the_batch_and_commits(isolated_topics, kafka_io) -> None:
    s = isolated_topics
    kafka_io.produce(s.topic_agg, [(b"k", b"v")] * 5, partition=0)
    stop = threading.Event()
    done: list[KafkaRecord] = []

    def slow(event, context, resources):
        stop.set()  # the stop request arrives while the batch is being handled
        time.sleep(0.3)
        done.extend(parse_event(event))
        return None

    runner = HandlerRunner("fraud-scorer", s, batch_size=5, max_wait_ms=2000, stop_event=stop, invoke=slow)
    runner.run()
    assert len(done) == 5
    assert committed(s, runner.group_id, s.topic_agg, s.partitions)[0] == 5


def test_consumer_lag_comes_from_the_fetched_high_watermarks(isolated_topics, kafka_io) -> None:
    """The lag gauge needs no broker round trip (it is read from the loop of the verdict path), and is
    right: records the handler has not consumed yet count, consumed ones do not."""
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.handlers.metrics import CONSUMER_LAG, observe_lag
    from fraudstream.kafka_clients import consumer_config

    s = isolated_topics
    kafka_io.produce(s.topic_agg, [(None, b'{"n": %d}' % i) for i in range(7)], partition=1)
    consumer = Consumer(consumer_config("lag-probe", s))
    try:
        consumer.assign([TopicPartition(s.topic_agg, 1, 0)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < deadline:
            got += [m for m in consumer.consume(1, 0.5) if not m.error()]
        assert len(got) == 2
        handler = "lag-probe"
        observe_lag(handler, consumer)
        gauge = CONSUMER_LAG.labels(handler, f"{s.topic_agg}-1")
        assert gauge._value.get() == 5  # 7 on the partition, position after the 2nd
        while len(got) < 7 and time.monotonic() < deadline:
            got += [m for m in consumer.consume(10, 0.5) if not m.error()]
        observe_lag(handler, consumer)
        assert gauge._value.get() == 0
    finally:
        consumer.close()
