"""The stream clock: heartbeats on every partition of ``transactions``, so event time moves when traffic is quiet.

Why it exists: the cc-agg job emits a transaction's 10-minute features when the watermark passes
its ``trans_time``, and Flink's watermark is the minimum over every partition of the newest event
time read there. A lone transaction, or the last one before a pause, or any transaction while one
partition is quiet, would wait for traffic that may never come. The clock sends one
:class:`~fraudstream.messages.Heartbeat` per partition every ``interval`` (20 ms by default) with
``trans_time = now``. The job's watermark is on the records' log-append time, so every heartbeat moves
it on its partition, and it keeps within about one interval of the wall clock on every partition:
Flink never has to declare a partition idle (the job never does).

A heartbeat is harmless to exactness: lateness is judged per card (see
:mod:`fraudstream.streaming.sql`), so a heartbeat ahead of a backlog's old event times only releases
those rows sooner; it never makes one late. The job drops heartbeats before validation, the window
and every sink.

One mechanism everywhere: ``fraudstream clock`` (a stack service, a docker-compose service), the
``Clock`` Lambda on AWS (``lambdas/clock.py``, invoked every minute, beats until its time is up),
and replays that find no clock running start the same :class:`StreamClock` in-process.

Heartbeats sent, failures and the last beat's age are Prometheus metrics
(:mod:`fraudstream.kafka_metrics`), served by ``fraudstream clock`` when
``FRAUDSTREAM_CLOCK_METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fraudstream import kafka_metrics
from fraudstream.messages import Heartbeat, decode, encode, is_heartbeat
from fraudstream.settings import Settings, get_settings

HEARTBEAT_KEY = b"__clock__"
PARTITION_REFRESH_S = 30.0
"""How often the clock re-reads the topic's partitions (a topic can grow)."""
log = logging.getLogger("fraudstream.clock")


def clock_id() -> str:
    """Who sends the heartbeats (host, pid and a random suffix), for a reader tracing one."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class ClockStats:
    beats: int = 0
    records: int = 0
    failed: int = 0
    partitions: int = 0
    started_at: float = field(default_factory=time.time)


class StreamClock:
    """Sends a heartbeat to every partition of ``transactions`` each ``interval_ms``, until stopped."""

    def __init__(
        self,
        settings: Settings | None = None,
        interval_ms: int | None = None,
        producer: Any = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        stop_event: threading.Event | None = None,
        producer_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.interval_s = max(1, interval_ms if interval_ms is not None else self.settings.clock_interval_ms) / 1000.0
        self.topic = self.settings.topic_transactions
        self.now = now
        self.stop_event = stop_event or threading.Event()
        self.id = clock_id()
        self.stats = ClockStats()
        self._producer = producer
        self._producer_overrides = producer_overrides or {}
        self._partitions: list[int] = []
        self._partitions_read_at = 0.0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ Kafka
    @property
    def producer(self) -> Any:
        if self._producer is None:
            from fraudstream.kafka_clients import connected_producer

            # no batching delay: a heartbeat is worth something only when it arrives now
            overrides = {"linger.ms": 0, "compression.type": "none", **self._producer_overrides}
            self._producer = connected_producer(self.settings, **overrides)
        return self._producer

    def partitions(self) -> list[int]:
        """The topic's partitions, re-read every ``PARTITION_REFRESH_S``."""
        if not self._partitions or time.monotonic() - self._partitions_read_at > PARTITION_REFRESH_S:
            meta = self.producer.list_topics(self.topic, timeout=10)
            topic = meta.topics.get(self.topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise RuntimeError(f"topic {self.topic!r} not found on {self.settings.kafka_bootstrap}")
            self._partitions = sorted(topic.partitions)
            self._partitions_read_at = time.monotonic()
            self.stats.partitions = len(self._partitions)
        return self._partitions

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.stats.failed += 1
            kafka_metrics.CLOCK_FAILURES.inc()

    # ------------------------------------------------------------------ beating
    def beat(self) -> int:
        """One heartbeat on every partition (all with the same event time); returns how many were sent."""
        value = encode(Heartbeat(trans_time=self.now(), clock=self.id, seq=self.stats.beats))
        sent = 0
        for partition in self.partitions():
            try:
                self.producer.produce(
                    self.topic, key=HEARTBEAT_KEY, value=value, partition=partition, on_delivery=self._delivered
                )
                sent += 1
            except BufferError:  # broker unreachable for a while: drop this beat, the next one supersedes it
                self.stats.failed += 1
                kafka_metrics.CLOCK_FAILURES.inc()
        self.producer.poll(0)
        self.stats.beats += 1
        self.stats.records += sent
        if sent:
            kafka_metrics.beat_done(sent)
        return sent

    def run(self, deadline: float | None = None) -> ClockStats:
        """Beat on a fixed schedule until stopped (or until ``time.monotonic()`` passes ``deadline``)."""
        next_at = time.monotonic()
        last_log = next_at
        while not self.stop_event.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                self.beat()
            except Exception as exc:  # Kafka down or topic missing: say so, keep trying
                self.stats.failed += 1
                kafka_metrics.CLOCK_FAILURES.inc()
                log.warning("clock: beat failed (%s); retrying", exc)
                self.stop_event.wait(1.0)
                next_at = time.monotonic()
            next_at += self.interval_s
            delay = next_at - time.monotonic()
            if delay < -self.interval_s:  # fell behind (a stall): do not burst to catch up
                next_at = time.monotonic()
            elif delay > 0:
                self.stop_event.wait(delay)
            if time.monotonic() - last_log > 60:
                last_log = time.monotonic()
                log.info("clock: %s", self.stats)
        self.producer.flush(5)
        return self.stats

    # ------------------------------------------------------------------ in-process use (replays, tests)
    def start(self) -> StreamClock:
        """Beat in a background thread (a replay with no clock service running)."""
        self.partitions()  # fail here, not in the thread, when the topic is missing
        self._thread = threading.Thread(target=self.run, name="stream-clock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> StreamClock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_clock(settings: Settings | None = None, interval_ms: int | None = None) -> ClockStats:
    """Run the clock in the foreground until SIGTERM/SIGINT (``fraudstream clock``)."""
    import signal

    clock = StreamClock(settings, interval_ms)
    kafka_metrics.serve_from_env(kafka_metrics.CLOCK_PORT)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: clock.stop_event.set())
    log.info("clock %s: beating on %s every %.0f ms", clock.id, clock.topic, clock.interval_s * 1000)
    return clock.run()


def latest_heartbeat_age_s(settings: Settings | None = None, lookback: int = 200, timeout: float = 5.0) -> float | None:
    """Seconds since the newest heartbeat on ``transactions`` (over all partitions), None when there is none.

    Reads at most ``lookback`` records back from the end of each partition, so it is cheap; it finds
    a clock in any deployment (stack, docker-compose, AWS), not only one this process started.
    """
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config

    settings = settings or get_settings()
    topic = settings.topic_transactions
    consumer = Consumer(
        consumer_config(
            f"fraudstream-clock-probe-{uuid.uuid4().hex[:8]}", settings, **{"isolation.level": "read_uncommitted"}
        )
    )
    newest: datetime | None = None
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or not meta.partitions:
            return None
        assignment, remaining = [], set()
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                assignment.append(TopicPartition(topic, p, max(low, high - lookback)))
                remaining.add((p, high))
        if not assignment:
            return None
        consumer.assign(assignment)
        ends = dict(remaining)
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.2):
                if msg.error():
                    continue
                if is_heartbeat(msg.value()):
                    beat = decode(Heartbeat, msg.value())
                    newest = beat.trans_time if newest is None else max(newest, beat.trans_time)
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
    finally:
        consumer.close()
    return None if newest is None else max(0.0, (datetime.now(UTC) - newest).total_seconds())


def clock_running(settings: Settings | None = None, max_age_s: float = 2.0) -> bool:
    """True when some clock has sent a heartbeat within ``max_age_s``."""
    age = latest_heartbeat_age_s(settings)
    return age is not None and age <= max_age_s
