"""Send a replay plan to ``transactions`` and wait for each transaction's prediction by ``tid``.

The order of operations is what makes the result trustworthy:

1. the prediction collector assigns every partition of ``predictions`` at its current end
   (read_committed) *before* anything is sent, so no prediction can be missed or taken from an
   earlier run;
2. the 1-week histories of the scenario cards are written to ``cc-agg-batch-fg``;
3. transactions go out at their planned wall-clock offsets.

Event time keeps moving through the stream clock (:mod:`fraudstream.streaming.clock`), the system's
one heartbeat mechanism: the stack, docker-compose and AWS run one. When none is beating (a bare
cluster, a test), the replay runs the same clock in-process for its duration. Heartbeats are
control records, not transactions: the Flink job drops them, so they appear in no count or report.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fraudstream import kafka_metrics
from fraudstream.messages import is_heartbeat
from fraudstream.replay.plan import PlannedTransaction, ReplayPlan
from fraudstream.settings import Settings

if TYPE_CHECKING:
    from fraudstream.streaming.clock import StreamClock

METRICS_NAME = "replay"
"""The ``producer`` label of the replay's sent/failed counters."""
ProgressCallback = Callable[[int, int, int], None]
"""``(sent, predicted, total)``, called as the replay advances."""


@dataclass
class Outcome:
    """What happened to one planned transaction."""

    planned: PlannedTransaction
    sent_at: float | None = None  # epoch seconds when handed to the producer
    prediction: dict[str, Any] | None = None
    received_at: float | None = None  # epoch seconds when the prediction was read

    @property
    def latency_ms(self) -> float | None:
        if self.sent_at is None or self.received_at is None:
            return None
        return (self.received_at - self.sent_at) * 1000.0


@dataclass
class RunStats:
    """Wall-clock facts of a run (for throughput)."""

    started_at: float
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    last_received_at: float | None = None
    heartbeats_sent: int = 0
    timed_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Kafka helpers
# --------------------------------------------------------------------------------------------
def topic_partitions(consumer: Any, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of ``topic``; a clear error when it does not exist."""
    meta = consumer.list_topics(topic, timeout=timeout)
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise RuntimeError(f"topic {topic!r} does not exist on the broker (is the stack up? `fraudstream stack up`)")
    return sorted(info.partitions)


def latest_event_time(
    settings: Settings,
    topic: str | None = None,
    timeout: float = 10.0,
    lookback: int = 20_000,
    max_scan: int = 2_000_000,
) -> datetime | None:
    """The newest transaction ``trans_time`` among the last ``lookback`` transactions of every partition.

    The demo's live slice starts after it, so that a re-run never sends a card's transaction before
    that card's last one. Heartbeats are skipped (they carry the clock's time, not a transaction's)
    and not counted: the clock writes 50 a second to every partition, so on a stack left idle for
    minutes the last 20,000 *records* held no transaction at all and the answer was None. Each
    partition is read back window by window from the end it had when the call started (not "until
    end of partition": the clock keeps appending, so that end never came and every partition took
    the whole ``timeout``), reading at most ``max_scan`` records of it.
    """
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config

    topic = topic or settings.topic_transactions
    consumer = Consumer(consumer_config(f"fraudstream-probe-{time.time_ns()}", settings))
    try:
        latest: datetime | None = None
        for partition in topic_partitions(consumer, topic, timeout):
            low, end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            found = scanned = 0
            while end > low and found < lookback and scanned < max_scan:
                start = max(low, end - max(lookback, 50_000))
                count, newest = _newest_in_range(consumer, TopicPartition(topic, partition, start), end, timeout)
                found, scanned, end = found + count, scanned + (end - start), start
                if newest is not None and (latest is None or newest > latest):
                    latest = newest
        return latest
    finally:
        consumer.close()


def _newest_in_range(consumer: Any, first: Any, end: int, timeout: float) -> tuple[int, datetime | None]:
    """``(transactions, newest trans_time)`` of the records at offsets ``[first.offset, end)``."""
    from fraudstream.messages import parse_time

    consumer.assign([first])
    count, newest, deadline = 0, None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = consumer.consume(num_messages=10_000, timeout=0.5)
        done = False
        for msg in messages:
            if msg.error():
                continue
            if msg.offset() >= end - 1:
                done = True
            if msg.offset() >= end or is_heartbeat(msg.value()):
                continue
            try:
                event_time = parse_time(json.loads(msg.value())["trans_time"])
            except (ValueError, KeyError, TypeError):
                continue
            count += 1
            newest = event_time if newest is None or event_time > newest else newest
        if done:
            break
    return count, newest


class PredictionCollector:
    """Reads ``predictions`` from the current end of every partition and keeps the wanted tids."""

    def __init__(self, settings: Settings, wanted: Iterable[str]) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from fraudstream.kafka_clients import consumer_config

        self.topic = settings.topic_predictions
        self.wanted = set(wanted)
        self.received: dict[str, tuple[dict[str, Any], float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = Consumer(consumer_config(f"fraudstream-replay-{time.time_ns()}", settings))
        assignment = []
        for partition in topic_partitions(self._consumer, self.topic):
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)
            assignment.append(TopicPartition(self.topic, partition, high))
        self._consumer.assign(assignment)
        self._thread = threading.Thread(target=self._loop, name="prediction-collector", daemon=True)

    def start(self) -> PredictionCollector:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            first = self._consumer.poll(0.2)  # returns as soon as a record is there: receive times stay exact
            if first is None:
                continue
            for msg in [first, *self._consumer.consume(num_messages=500, timeout=0)]:
                if msg.error():
                    continue
                now = time.time()
                try:
                    record = json.loads(msg.value())
                    tid = record["tid"]
                except (ValueError, KeyError, TypeError):
                    continue
                if tid in self.wanted:
                    with self._lock:
                        self.keep(tid, record, now)

    def keep(self, tid: str, record: dict[str, Any], received_at: float) -> None:
        """Called under the lock for each record of a wanted tid: at-least-once, so the first copy wins."""
        if tid not in self.received:
            self.received[tid] = (record, received_at)

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def complete(self) -> bool:
        with self._lock:
            return len(self.received) >= len(self.wanted)

    def wait(self, timeout: float, interval: float = 0.1) -> bool:
        """Wait up to ``timeout`` seconds for every wanted prediction; True when all came. A timeout is
        an outcome here (the caller counts what is missing), not an error."""
        deadline = time.monotonic() + timeout
        while not self.complete() and time.monotonic() < deadline:
            time.sleep(interval)
        return self.complete()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def seed_histories(plan: ReplayPlan, settings: Settings, as_of: datetime) -> int:
    """Write the scenario cards' 1-week features to ``cc-agg-batch-fg``; returns how many were stored."""
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP
    from fraudstream.messages import format_time

    if not plan.histories:
        return 0
    store = DynamoFeatureStore(settings)
    records = [
        {
            "cc_num": history.cc_num,
            "num_trans_last_1w": history.num_trans_last_1w,
            "avg_amt_last_1w": history.avg_amt_last_1w,
            "as_of": format_time(as_of),
        }
        for history in plan.histories
    ]
    # the nightly load's conditional writes, 100 to a transaction: with one put per card, a loaded test run
    # timed out while still writing the 1,500 histories of a drift scenario
    summary = store.put_records(BATCH_GROUP, records)
    if summary.failed:
        raise RuntimeError(f"{summary.failed} of {len(records)} card histories not stored: {summary.errors[:1]}")
    stored = summary.written
    # a new batch version: scorers drop their cached 1-week features (a scenario may name a card it saw before)
    store.mark_batch_version(f"replay {plan.name} {plan.run_id}: {stored} card histories")
    return stored


def history_as_of(plan: ReplayPlan) -> datetime:
    """Event time of the seeded history: the UTC midnight before the plan's first transaction."""
    first = min(t.event_time for t in plan.transactions)
    return first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def clock_for_run(settings: Settings, interval_ms: int | None = None) -> StreamClock | None:
    """A stream clock to run in-process for a replay, or None when one is already beating (the stack's)."""
    from fraudstream.streaming.clock import StreamClock, clock_running

    if clock_running(settings):
        return None
    return StreamClock(settings, interval_ms)


def run_plan(
    plan: ReplayPlan,
    settings: Settings,
    timeout_s: float = 60.0,
    seed_history: bool = True,
    progress: ProgressCallback | None = None,
    clock_interval_ms: int | None = None,
) -> tuple[list[Outcome], RunStats]:
    """Send ``plan``, wait up to ``timeout_s`` after the last send for every prediction, return outcomes.

    A stream clock runs in-process for the replay when no clock is beating already.
    """
    from fraudstream.kafka_clients import DeliveryTracker, connected_producer, poll_for, produce_waiting
    from fraudstream.messages import Transaction, encode

    kafka_metrics.serve_from_env(kafka_metrics.PRODUCER_PORT)
    sent = kafka_metrics.SENT.labels(METRICS_NAME, settings.topic_transactions)
    outcomes = [Outcome(t) for t in plan.transactions]
    collector = PredictionCollector(settings, (t.tid for t in plan.transactions)).start()
    producer = connected_producer(settings, **{"linger.ms": 0})
    failures = DeliveryTracker(METRICS_NAME)
    stats = RunStats(started_at=time.time())
    clock = clock_for_run(settings, clock_interval_ms)
    try:
        if clock is not None:
            clock.start()
        if seed_history and seed_histories(plan, settings, history_as_of(plan)):
            # scorers re-read the batch version at most this often: after it, none serves an older history
            time.sleep(settings.batch_cache_check_interval_s)
        topic_partitions(producer, settings.topic_transactions)  # a clear error when the topic is missing
        send_order = sorted(outcomes, key=lambda o: (o.planned.send_offset_s, o.planned.index))
        start = time.monotonic()
        total = len(outcomes)
        for n, outcome in enumerate(send_order, 1):
            while (remaining := outcome.planned.send_offset_s - (time.monotonic() - start)) > 0:
                poll_for(producer, min(remaining, 0.05))  # serve delivery callbacks while waiting
            tx = Transaction(
                tid=outcome.planned.tid,
                cc_num=outcome.planned.cc_num,
                amount=outcome.planned.amount,
                trans_time=outcome.planned.event_time,
            )
            outcome.sent_at = time.time()
            # a failed delivery is counted (the report shows the transaction as missing)
            produce_waiting(producer, settings.topic_transactions, encode(tx), tx.cc_num.encode(), on_delivery=failures)
            sent.inc()
            producer.poll(0)
            stats.first_sent_at = stats.first_sent_at or outcome.sent_at
            stats.last_sent_at = outcome.sent_at
            if progress and (n % 200 == 0 or n == total or total <= 200):
                progress(n, collector.count(), total)
        producer.flush(30)
        deadline = time.monotonic() + timeout_s
        while not collector.complete() and time.monotonic() < deadline:
            time.sleep(0.1)
            if progress:
                progress(total, collector.count(), total)
        stats.timed_out = not collector.complete()
    finally:
        if clock is not None:
            clock.stop()
            stats.heartbeats_sent = clock.stats.records
        if undelivered := producer.flush(10):  # never acknowledged: counted as failed
            kafka_metrics.FAILED.labels(METRICS_NAME, settings.topic_transactions).inc(undelivered)
        collector.stop()
    for outcome in outcomes:
        got = collector.received.get(outcome.planned.tid)
        if got is not None:
            outcome.prediction, outcome.received_at = got
    received = [o.received_at for o in outcomes if o.received_at is not None]
    stats.last_received_at = max(received) if received else None
    return outcomes, stats
