"""Send a replay plan to ``transactions`` and wait for each transaction's prediction by ``tid``.

The order of operations is what makes the result trustworthy:

1. the prediction collector assigns every partition of ``predictions`` at its current end
   (read_committed) *before* anything is sent, so no prediction can be missed or taken from an
   earlier run;
2. the 1-week histories of the scenario cards are written to ``cc-agg-batch-fg``;
3. transactions go out at their planned wall-clock offsets while a heartbeat thread sends one
   control transaction per partition every ``heartbeat_interval_s``.

Why heartbeats: the Flink job aggregates on event time, and an OVER window emits a row only when
the watermark passes it. The watermark only advances with newer events, so without further
traffic the last transactions of a replay would wait forever. Heartbeats are real transactions on
dedicated control cards (``CONTROL_CARD_PREFIX``, tids ``ctl-...``): they go through the whole
pipeline like any other, are scored like any other, and are left out of every count and report.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudstream.replay.plan import CONTROL_TID_PREFIX, PlannedTransaction, ReplayPlan, control_card
from fraudstream.settings import Settings

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


def latest_event_time(settings: Settings, topic: str | None = None, timeout: float = 10.0) -> datetime | None:
    """The newest ``trans_time`` among the last record of every partition of ``transactions``.

    Replays start after it, so their events are never behind the Flink job's watermark.
    """
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config
    from fraudstream.messages import parse_time

    topic = topic or settings.topic_transactions
    consumer = Consumer(
        consumer_config(f"fraudstream-probe-{time.time_ns()}", settings, **{"enable.partition.eof": True})
    )
    try:
        latest: datetime | None = None
        for partition in topic_partitions(consumer, topic, timeout):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, max(low, high - 5))])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    break  # partition EOF (or an error): done with this partition
                try:
                    event_time = parse_time(json.loads(msg.value())["trans_time"])
                except (ValueError, KeyError, TypeError):
                    continue
                latest = event_time if latest is None else max(latest, event_time)
        return latest
    finally:
        consumer.close()


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
            for msg in self._consumer.consume(num_messages=500, timeout=0.2):
                if msg.error():
                    continue
                now = time.time()
                try:
                    record = json.loads(msg.value())
                    tid = record["tid"]
                except (ValueError, KeyError, TypeError):
                    continue
                with self._lock:
                    if tid in self.wanted and tid not in self.received:  # at-least-once: first copy wins
                        self.received[tid] = (record, now)

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def complete(self) -> bool:
        with self._lock:
            return len(self.received) >= len(self.wanted)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


class Heartbeat:
    """Sends one control transaction to every partition of ``transactions`` each interval."""

    def __init__(
        self,
        producer: Any,
        settings: Settings,
        partitions: list[int],
        event_clock: Callable[[], datetime],
        run_id: str,
        interval_s: float,
    ) -> None:
        self.producer = producer
        self.topic = settings.topic_transactions
        self.partitions = partitions
        self.event_clock = event_clock
        self.run_id = run_id
        self.interval_s = interval_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self, warmup_s: float = 0.0) -> Heartbeat:
        """Beat for ``warmup_s`` (every 0.2 s, waiting here), then every interval in the background.

        The warm-up matters: after a quiet spell every partition is idle for Flink, and the first
        partition whose records the source emits would alone drive the watermark, so another
        partition's records (re-timed traffic spans hours of event time in seconds) would arrive
        late. Beats at the first event time on every partition make them all active first.
        """
        if self.interval_s <= 0:
            return self
        deadline = time.monotonic() + warmup_s
        while True:
            self.beat()
            self.producer.flush(10)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        self._thread.start()
        return self

    def beat(self) -> None:
        """One control transaction on every partition, at the event clock's time."""
        from fraudstream.messages import Transaction, encode

        event_time = self.event_clock()
        for partition in self.partitions:
            card = control_card(partition)
            tx = Transaction(
                tid=f"{CONTROL_TID_PREFIX}{self.run_id}-{self.sent:06d}",
                cc_num=card,
                amount=1.0,
                trans_time=event_time,
                merchant="fraudstream-heartbeat",
            )
            self.producer.produce(self.topic, key=card.encode(), value=encode(tx), partition=partition)
            self.sent += 1
        self.producer.poll(0)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


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
    stored = 0
    for history in plan.histories:
        record = {
            "cc_num": history.cc_num,
            "num_trans_last_1w": history.num_trans_last_1w,
            "avg_amt_last_1w": history.avg_amt_last_1w,
            "as_of": format_time(as_of),
        }
        stored += bool(store.put_record(BATCH_GROUP, record))
    return stored


def history_as_of(plan: ReplayPlan) -> datetime:
    """Event time of the seeded history: the UTC midnight before the plan's first transaction."""
    first = min(t.event_time for t in plan.transactions)
    return first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class EventClock:
    """Event time for heartbeats that releases sent transactions without making unsent ones late.

    While transactions are still to be sent, a heartbeat carries ``now`` clamped between the
    newest sent and the next unsent event time: never behind what was sent (a heartbeat must not
    be late itself) and never ahead of what is to come (no later transaction may fall behind the
    watermark; re-timed live traffic in the past stays in order). Once everything is sent, it
    carries ``max(now, newest sent + 1.5 s)``, past the watermark delay, so the last transactions
    are emitted too.
    """

    RELEASE_MARGIN = timedelta(seconds=1.5)

    def __init__(self, event_times_in_send_order: list[datetime]) -> None:
        self._pending_min: list[datetime | None] = [None] * (len(event_times_in_send_order) + 1)
        running: datetime | None = None
        for i in range(len(event_times_in_send_order) - 1, -1, -1):
            t = event_times_in_send_order[i]
            running = t if running is None else min(running, t)
            self._pending_min[i] = running
        self._newest_sent: datetime | None = None
        self.sent = 0

    def mark_sent(self, event_time: datetime) -> None:
        self._newest_sent = event_time if self._newest_sent is None else max(self._newest_sent, event_time)
        self.sent += 1

    def heartbeat_time(self, now: datetime) -> datetime:
        pending = self._pending_min[self.sent]
        if pending is not None:
            floor = now if self._newest_sent is None else max(now, self._newest_sent)
            return min(floor, pending)
        if self._newest_sent is None:
            return now
        return max(now, self._newest_sent + self.RELEASE_MARGIN)


def run_plan(
    plan: ReplayPlan,
    settings: Settings,
    timeout_s: float = 60.0,
    heartbeat_interval_s: float = 0.25,
    seed_history: bool = True,
    progress: ProgressCallback | None = None,
    warmup_s: float = 3.0,
) -> tuple[list[Outcome], RunStats]:
    """Send ``plan``, wait up to ``timeout_s`` after the last send for every prediction, return outcomes.

    ``warmup_s`` of heartbeats precede the first transaction (see ``Heartbeat.start``).
    """
    from confluent_kafka import Producer

    from fraudstream.kafka_clients import producer_config
    from fraudstream.messages import Transaction, encode

    outcomes = [Outcome(t) for t in plan.transactions]
    collector = PredictionCollector(settings, (t.tid for t in plan.transactions)).start()
    producer = Producer(producer_config(settings, **{"linger.ms": 1}))
    stats = RunStats(started_at=time.time())
    heartbeat: Heartbeat | None = None
    try:
        if seed_history:
            seed_histories(plan, settings, history_as_of(plan))
        partitions = topic_partitions(producer, settings.topic_transactions)
        send_order = sorted(outcomes, key=lambda o: (o.planned.send_offset_s, o.planned.index))
        clock = EventClock([o.planned.event_time for o in send_order])
        heartbeat = Heartbeat(
            producer, settings, partitions, lambda: clock.heartbeat_time(datetime.now(UTC)), plan.run_id,
            heartbeat_interval_s,
        ).start(warmup_s)  # fmt: skip
        start = time.monotonic()
        total = len(outcomes)
        for n, outcome in enumerate(send_order, 1):
            while (remaining := outcome.planned.send_offset_s - (time.monotonic() - start)) > 0:
                producer.poll(min(remaining, 0.05))  # serve delivery callbacks while waiting
            tx = Transaction(
                tid=outcome.planned.tid,
                cc_num=outcome.planned.cc_num,
                amount=outcome.planned.amount,
                trans_time=outcome.planned.event_time,
            )
            outcome.sent_at = time.time()
            while True:
                try:
                    producer.produce(settings.topic_transactions, key=tx.cc_num.encode(), value=encode(tx))
                    break
                except BufferError:  # local queue full: let deliveries drain
                    producer.poll(0.05)
            producer.poll(0)
            clock.mark_sent(outcome.planned.event_time)
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
        if heartbeat is not None:
            heartbeat.stop()
            stats.heartbeats_sent = heartbeat.sent
        producer.flush(10)
        collector.stop()
    for outcome in outcomes:
        got = collector.received.get(outcome.planned.tid)
        if got is not None:
            outcome.prediction, outcome.received_at = got
    received = [o.received_at for o in outcomes if o.received_at is not None]
    stats.last_received_at = max(received) if received else None
    return outcomes, stats
