"""Producer, replay and stream-clock metrics against a real Kafka broker: what the counters say was
sent is what the topics received, read back from their end offsets, and /metrics parses."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime

import pytest

from fraudstream import kafka_metrics
from fraudstream.producer import produce
from fraudstream.record_source import Selection
from fraudstream.replay.plan import PlannedTransaction, ReplayPlan
from fraudstream.replay.runner import run_plan
from fraudstream.streaming.testkit import end_offsets
from fraudstream.testing.models import free_port

from .scrape import scrape, value

pytestmark = pytest.mark.integration


@pytest.fixture
def metrics_url(monkeypatch: pytest.MonkeyPatch) -> str:
    port = free_port()
    monkeypatch.setenv(kafka_metrics.PRODUCER_PORT_ENV, str(port))
    return f"http://127.0.0.1:{port}/metrics"


def total(settings, topic: str) -> int:
    return sum(end_offsets(settings, topic).values())


def wait_until_ready(settings, timeout: float = 30.0) -> None:
    """A created topic is readable by a new client only once it is in the metadata and every
    partition has a leader (1.5 s and more under load): until then offsets cannot be read."""
    deadline = time.monotonic() + timeout
    for topic in settings.all_topics:
        while True:
            try:
                end_offsets(settings, topic)
                break
            except Exception:
                assert time.monotonic() < deadline, f"topic {topic} not ready"
                time.sleep(0.2)


def test_produce_counts_what_kafka_received(isolated_topics, small_transactions_path, metrics_url):
    s = isolated_topics
    summary = produce(small_transactions_path, s, selection=Selection(limit=3_000))
    samples = scrape(metrics_url)
    sent_tx = value(samples, "fraudstream_producer_sent_total", producer="produce", topic=s.topic_transactions)
    sent_labels = value(samples, "fraudstream_producer_sent_total", producer="produce", topic=s.topic_labels)
    assert summary.ok and summary.transactions_sent == 3_000
    assert sent_tx == summary.transactions_sent == total(s, s.topic_transactions)
    assert sent_labels == summary.labels_sent == total(s, s.topic_labels) > 0
    assert value(samples, "fraudstream_producer_failed_total", producer="produce", topic=s.topic_transactions) == 0


def test_replay_and_its_clock_count_on_the_same_port(isolated_topics, metrics_url):
    """A replay with no clock beating runs one in-process: both count on the replay's /metrics."""
    s = isolated_topics
    wait_until_ready(s)
    assert kafka_metrics.serve_from_env(kafka_metrics.PRODUCER_PORT)
    before = scrape(metrics_url)
    now = datetime.now(UTC)
    txs = [
        PlannedTransaction(i, f"m-{uuid.uuid4().hex[:8]}-{i}", "4000000000000042", "c", 12.5, now, 0.02 * i, "normal")
        for i in range(25)
    ]
    _, stats = run_plan(ReplayPlan("metrics", "m", txs), s, timeout_s=0.5, seed_history=False, clock_interval_ms=50)
    after = scrape(metrics_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    replayed = delta("fraudstream_producer_sent_total", producer="replay", topic=s.topic_transactions)
    heartbeats = delta("fraudstream_clock_heartbeats_total")
    assert replayed == 25
    assert heartbeats == stats.heartbeats_sent > 0
    assert total(s, s.topic_transactions) == replayed + heartbeats  # every counted record is on the topic
    assert delta("fraudstream_clock_failures_total") == 0
    assert delta("fraudstream_producer_failed_total", producer="replay", topic=s.topic_transactions) == 0
    age = value(after, "fraudstream_clock_last_beat_age_seconds", default=math.nan)
    assert 0 <= age < 10


class _Meta:
    """What ``list_topics`` answers for a one-partition topic."""

    def __init__(self, topic: str) -> None:
        self.topics = {topic: type("T", (), {"error": None, "partitions": {0: None}})()}


class _FullProducer:
    """A producer whose local queue is always full (broker unreachable for a while)."""

    def list_topics(self, topic: str, timeout: float) -> _Meta:
        return _Meta(topic)

    def produce(self, *args: object, **kwargs: object) -> None:
        raise BufferError("queue full")

    def poll(self, timeout: float) -> int:
        return 0


def test_clock_counts_dropped_beats_as_failures():
    from fraudstream.streaming.clock import StreamClock

    before = kafka_metrics.CLOCK_FAILURES._value.get()
    clock = StreamClock(producer=_FullProducer())
    assert clock.beat() == 0
    assert kafka_metrics.CLOCK_FAILURES._value.get() == before + 1 == before + clock.stats.failed


def test_failed_delivery_report_is_counted():
    from fraudstream.producer import DeliveryTracker

    msg = type("Msg", (), {"topic": lambda self: "t-failed"})()
    DeliveryTracker("produce")("broker gone", msg)
    assert kafka_metrics.FAILED.labels("produce", "t-failed")._value.get() == 1
