"""Stream transactions into Kafka: ``transactions`` keyed by ``cc_num``, each label on ``labels``.

Pacing: ``rate`` (transactions per second), ``speedup`` (replay event time X times faster than
real) or neither (as fast as possible). A label is sent with its transaction and carries
``labelled_at``; when replaying by event time (``speedup``) a label known later than its
transaction (a file with ``labelled_at``: label delay, as chargebacks) is held back until its
own time comes, and the run waits for the last one (labels still held when the run is stopped
are counted in ``labels_held``, never sent early). The producer is idempotent (``kafka_clients.producer_config``)
and asks for delivery reports on failures only, so success costs no Python callback; what was
sent is what was queued minus what failed, once ``flush`` has drained the queue. Records that do
not decode as transactions go to ``dead-letter`` with the reason. Ctrl-C (or SIGTERM) stops
between chunks, flushes what is queued and still reports. Sent and failed records are also counted
in Prometheus counters (:mod:`fraudstream.kafka_metrics`, label ``producer="produce"``).
"""

from __future__ import annotations

import heapq
import itertools
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream import kafka_metrics
from fraudstream.kafka_clients import DeliveryTracker, produce_waiting
from fraudstream.record_source import EncodedBatch, Selection, file_batches, line_batches, stdin_lines
from fraudstream.settings import Settings, get_settings

STAGE = "producer"
METRICS_NAME = "produce"
"""The ``producer`` label of this module's counters (the replay's is ``replay``)."""
CHUNK = 5_000  # records queued between checks for a stop request
MAX_SLEEP_S = 0.1  # pacing sleeps in short steps so that delivery reports and Ctrl-C stay responsive
FLUSH_TIMEOUT_S = 60.0
THROUGHPUT_CONFIG: dict[str, Any] = {
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 512 * 1024,
    "message.timeout.ms": 60_000,
    "delivery.report.only.error": True,
}
"""Overrides on top of the shared idempotent producer config: big lz4 batches, failure-only reports."""


@dataclass
class ProduceSummary:
    """What a run did; ``ok`` is False when any record failed to be delivered."""

    transactions_sent: int = 0
    labels_sent: int = 0
    labels_held: int = 0  # delayed labels not yet due when the run stopped (never sent)
    rejected: int = 0
    failed: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    first_error: str | None = None
    errors_by_topic: dict[str, int] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.transactions_sent + self.labels_sent

    @property
    def records_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def transactions_per_s(self) -> float:
        return self.transactions_sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "sent": self.sent,
            "records_per_s": round(self.records_per_s, 1),
            "transactions_per_s": round(self.transactions_per_s, 1),
        }


class Pacer:
    """When each record may leave: by rate, by event time / speedup, or immediately."""

    def __init__(self, rate: float | None = None, speedup: float | None = None) -> None:
        if rate is not None and speedup is not None:
            raise ValueError("choose one of rate and speedup")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if speedup is not None and speedup <= 0:
            raise ValueError(f"speedup must be positive, got {speedup}")
        self.rate = rate
        self.speedup = speedup
        self.started = time.monotonic()
        self.count = 0
        self.first_event_ms: int | None = None

    @property
    def unpaced(self) -> bool:
        return self.rate is None and self.speedup is None

    def due_offsets(self, times_ms: np.ndarray) -> np.ndarray | None:
        """Seconds after start at which each record of a batch is due (None: all due now)."""
        n = times_ms.size
        if self.rate is not None:
            offsets = (self.count + np.arange(n)) / self.rate
        elif self.speedup is not None and n:
            if self.first_event_ms is None:
                self.first_event_ms = int(times_ms[0])
            offsets = np.maximum(times_ms - self.first_event_ms, 0) / 1000.0 / self.speedup
        else:
            offsets = None
        self.count += n
        return offsets

    def label_offsets(self, label_times_ms: np.ndarray) -> np.ndarray | None:
        """Seconds after start at which labels known at ``label_times_ms`` are due (None: with their transaction).

        Only a replay by event time has a clock for them; call after ``due_offsets`` of the batch.
        """
        if self.speedup is None or self.first_event_ms is None:
            return None
        return np.maximum(label_times_ms - self.first_event_ms, 0) / 1000.0 / self.speedup

    def restart(self) -> None:
        """Start the clock now (after connecting), so that setup time is not caught up in a burst."""
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def produce(
    source: str | Path,
    settings: Settings | None = None,
    *,
    rate: float | None = None,
    speedup: float | None = None,
    selection: Selection | None = None,
    labels: bool = True,
    on_progress: Callable[[ProduceSummary], None] | None = None,
    stdin: Any = None,
) -> ProduceSummary:
    """Send ``source`` (a generated Parquet/CSV file, or ``-`` for JSON lines on stdin) to Kafka.

    Returns the summary after flushing; never raises on delivery failures (they are counted).
    Raises ``ValueError`` for contradictory pacing and ``ConnectionError`` when Kafka is unreachable.
    """
    settings = settings or get_settings()
    kafka_metrics.serve_from_env(kafka_metrics.PRODUCER_PORT)
    pacer = Pacer(rate, speedup)
    tracker = DeliveryTracker(METRICS_NAME)
    producer = make_producer(settings, tracker)
    run = _Run(producer, settings, tracker, pacer, labels, on_progress)
    previous = _route_interrupts(run.request_stop)
    try:
        for batch in prefetch(_batches(source, selection or Selection(), stdin)):
            if run.stop_requested:
                break
            if batch.rejected:
                _dead_letter(producer, settings, source, batch)
                run.summary.rejected += len(batch.rejected)
            run.send(batch)
        run.drain_labels()
    except KeyboardInterrupt:  # only when signals could not be routed (not the main thread)
        run.stop_requested = True
    finally:
        remaining = _flush(producer)
        _restore_interrupts(previous)
    run.summary.interrupted = run.stop_requested
    return run.finish(remaining)


INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def _route_interrupts(handler: Callable[[int, Any], None]) -> dict[int, Any] | None:
    """Ctrl-C and ``kill`` ask the run to stop between chunks instead of raising mid-record."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return {sig: signal.signal(sig, handler) for sig in INTERRUPTS}


def _restore_interrupts(previous: dict[int, Any] | None) -> None:
    for sig, handler in (previous or {}).items():
        signal.signal(sig, handler)


class _Run:
    """One produce run: queues records at the pacer's pace and keeps the running summary."""

    PROGRESS_EVERY_S = 0.25

    def __init__(
        self,
        producer: Any,
        settings: Settings,
        tracker: DeliveryTracker,
        pacer: Pacer,
        labels: bool,
        on_progress: Callable[[ProduceSummary], None] | None,
    ) -> None:
        self.producer = producer
        self.tx_topic = settings.topic_transactions
        self.label_topic = settings.topic_labels if labels else None
        self.tracker = tracker
        self.pacer = pacer
        self.on_progress = on_progress
        self.summary = ProduceSummary()
        self.queued_tx = 0
        self.queued_labels = 0
        self.held: list[tuple[float, int, bytes, bytes]] = []  # (due offset, order, key, label): a heap
        self.order = itertools.count()  # ties in due time keep the file's order
        self.began = time.monotonic()
        self.reported = 0.0
        self.stop_requested = False
        pacer.restart()

    def send(self, batch: EncodedBatch) -> None:
        """Queue a batch's transactions (and labels), each no earlier than its due time.

        Stops between chunks once a stop was requested (Ctrl-C), so the counts stay exact.
        """
        n = len(batch)
        due = self.pacer.due_offsets(batch.times_ms)
        label_due = None if batch.label_times_ms is None else self.pacer.label_offsets(batch.label_times_ms)
        start = 0
        while start < n and not self.stop_requested:
            if due is None:
                stop = min(n, start + CHUNK)
            else:
                now = self.pacer.elapsed()
                stop = min(int(np.searchsorted(due, now, side="right")), start + CHUNK)
                if stop <= start:
                    self._release_labels(now)
                    self._wait(min(float(due[start]), self._next_label_due()) - now)
                    continue
            _queue(self.producer, self.tx_topic, batch.keys, batch.values, start, stop)
            self.queued_tx += stop - start
            kafka_metrics.SENT.labels(METRICS_NAME, self.tx_topic).inc(stop - start)
            if self.label_topic is not None:
                self._labels(batch, start, stop, None if label_due is None or due is None else (due, label_due))
            if due is not None:  # after the transactions that came before them
                self._release_labels(now)
            self.producer.poll(0)
            start = stop
            self._progress()

    def drain_labels(self) -> None:
        """Send the held labels as they fall due (after the last transaction); stop on request."""
        while self.held and not self.stop_requested:
            now = self.pacer.elapsed()
            self._release_labels(now)
            if self.held:
                self._wait(self._next_label_due() - now)

    def _labels(self, batch: EncodedBatch, start: int, stop: int, due: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Queue the labels of rows ``start:stop`` now, or hold those due after their transaction."""
        rows = range(start, stop)
        if due is not None:
            later = due[1][start:stop] > due[0][start:stop]
            for i in np.flatnonzero(later) + start:
                label = batch.labels[i]
                if label is not None:
                    heapq.heappush(
                        self.held, (float(due[1][i]), self.queued_labels + len(self.held), batch.keys[i], label)
                    )
            rows = (np.flatnonzero(~later) + start).tolist()
        queued = _queue_labels(self.producer, self.label_topic, batch.keys, batch.labels, rows)
        self._count_labels(queued)

    def _release_labels(self, now: float) -> None:
        """Queue every held label whose time has come."""
        keys: list[bytes] = []
        labels: list[bytes | None] = []
        while self.held and self.held[0][0] <= now:
            _, _, key, label = heapq.heappop(self.held)
            keys.append(key)
            labels.append(label)
        if keys:
            self._count_labels(_queue_labels(self.producer, self.label_topic, keys, labels, range(len(keys))))

    def _count_labels(self, queued: int) -> None:
        self.queued_labels += queued
        kafka_metrics.SENT.labels(METRICS_NAME, self.label_topic).inc(queued)

    def _next_label_due(self) -> float:
        return self.held[0][0] if self.held else float("inf")

    def _wait(self, seconds: float) -> None:
        """Sleep at most ``MAX_SLEEP_S`` (delivery reports and Ctrl-C stay responsive)."""
        time.sleep(max(0.0, min(MAX_SLEEP_S, seconds)))
        self.producer.poll(0)
        self._progress()

    def request_stop(self, _signum: int = 0, _frame: object = None) -> None:
        """Signal handler: finish the current chunk, then stop reading and flush."""
        self.stop_requested = True

    def _progress(self) -> None:
        now = time.monotonic()
        if self.on_progress is not None and now - self.reported >= self.PROGRESS_EVERY_S:
            self.reported = now
            self._update_counts()
            self.on_progress(self.summary)

    def _update_counts(self) -> None:
        s = self.summary
        s.seconds = time.monotonic() - self.began
        s.transactions_sent = self.queued_tx - self.tracker.failed_on(self.tx_topic)
        s.labels_sent = self.queued_labels - (self.tracker.failed_on(self.label_topic) if self.label_topic else 0)

    def finish(self, remaining: int) -> ProduceSummary:
        """Final counts once the queue is flushed (``remaining`` = records never delivered)."""
        self._update_counts()
        s = self.summary
        s.labels_held = len(self.held)
        s.failed = sum(self.tracker.failed.values()) + remaining
        s.errors_by_topic = dict(self.tracker.failed)
        leftover = f"{remaining} records still queued after flush" if remaining else None
        s.first_error = self.tracker.first_error or leftover
        if remaining:  # undelivered; we cannot tell which topic, charge the transactions first
            s.transactions_sent = max(0, s.transactions_sent - remaining)
            kafka_metrics.FAILED.labels(METRICS_NAME, self.tx_topic).inc(remaining)
        if self.on_progress is not None:
            self.on_progress(s)
        return s


def make_producer(settings: Settings, tracker: DeliveryTracker) -> Any:
    """An idempotent, throughput-tuned producer whose failed deliveries go to ``tracker``."""
    from fraudstream.kafka_clients import connected_producer, ensure_topics

    try:
        ensure_topics(
            settings,
            topics=(settings.topic_transactions, settings.topic_labels, settings.topic_dead_letter),
            timeout=10.0,
        )
    except Exception as exc:  # unreachable broker: say so now rather than after message.timeout.ms
        raise ConnectionError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    return connected_producer(settings, **THROUGHPUT_CONFIG, on_delivery=tracker)


def prefetch(batches: Iterator[EncodedBatch], depth: int = 2) -> Iterator[EncodedBatch]:
    """Encode the next batches on a worker thread while this one is being produced.

    Arrow's compute kernels release the GIL, so encoding overlaps the produce loop. Errors in the
    worker are re-raised here; leaving the loop early (limit, Ctrl-C) stops the worker.
    """
    done = object()
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> None:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                offer(batch)
        except BaseException as exc:  # handed to the consumer thread, which re-raises it
            offer(exc)
        finally:
            offer(done)

    worker = threading.Thread(target=work, name="produce-encoder", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _batches(source: str | Path, selection: Selection, stdin: Any) -> Iterator[EncodedBatch]:
    if str(source) == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return line_batches(stdin_lines(stream), selection)
    return file_batches(source, selection)


def _queue(producer: Any, topic: str, keys: list[bytes], values: list[bytes], start: int, stop: int) -> None:
    """The hot loop: one ``produce`` per record; a full local queue waits for deliveries."""
    send = producer.produce
    for i in range(start, stop):
        try:
            send(topic, values[i], keys[i])
        except BufferError:
            produce_waiting(producer, topic, values[i], keys[i])


def _queue_labels(producer: Any, topic: str, keys: list[bytes], labels: list[bytes | None], rows: Iterable[int]) -> int:
    """Queue the labels of ``rows`` (rows without one are skipped); returns how many were queued."""
    send = producer.produce
    count = 0
    for i in rows:
        label = labels[i]
        if label is None:
            continue
        try:
            send(topic, label, keys[i])
        except BufferError:
            produce_waiting(producer, topic, label, keys[i])
        count += 1
    return count


def _dead_letter(producer: Any, settings: Settings, source: str | Path, batch: EncodedBatch) -> None:
    from fraudstream.dead_letter import DeadLetterPublisher

    publisher = DeadLetterPublisher(producer, settings)
    origin = "stdin" if str(source) == "-" else str(source)
    for item in batch.rejected:
        publisher.publish(STAGE, origin, None, item.offset, item.error, item.payload)


def _flush(producer: Any) -> int:
    """Drain the queue; returns the number of records left undelivered."""
    return int(producer.flush(FLUSH_TIMEOUT_S))
