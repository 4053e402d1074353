"""Local stand-in for the Lambda MSK event source mapping: a Kafka consumer group that invokes a handler.

It waits for one record, then takes up to ``batch_size`` records that have arrived (waiting at most
``max_wait_ms`` more; the batching of each handler comes from a named profile, see
:mod:`fraudstream.handlers.profiles`),
builds exactly the Lambda MSK event, calls the handler, and commits offsets only after the handler
succeeded (at-least-once; the handlers are idempotent):

- success → commit every partition past its last record;
- partial failure (``batchItemFailures``) → commit each failed partition up to its first failed
  offset and seek back there (Lambda re-delivers from the lowest failed offset); other
  partitions are committed in full;
- exception → nothing is committed, every partition is rewound to the batch start and retried
  after a backoff.

SIGTERM/SIGINT (or ``stop_event``) lets the current batch finish and commit, then the consumer
leaves the group cleanly.
"""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudstream.handlers import metrics as handler_metrics
from fraudstream.handlers.msk_event import (
    KafkaRecord,
    build_event,
    first_failed_offsets,
    from_confluent,
    iter_partitions,
    local_event_source_arn,
)
from fraudstream.handlers.profiles import batching
from fraudstream.handlers.resources import HandlerResources
from fraudstream.memory import TrimSchedule
from fraudstream.settings import Settings, get_settings

HANDLER_MODULES = {
    "agg-writer": "fraudstream.handlers.agg_writer",
    "fraud-scorer": "fraudstream.handlers.fraud_scorer",
}
MAX_BACKOFF_S = 10.0
log = logging.getLogger("fraudstream.runner")


def group_id_for(name: str, settings: Settings) -> str:
    """Consumer group of a handler: one per handler and source topic (like one event source mapping)."""
    return f"fraudstream-{name}-{settings.topic_agg}"


def handler_function(name: str) -> Callable[..., Any]:
    """``handle(event, context, resources)`` of a handler by CLI name."""
    try:
        return importlib.import_module(HANDLER_MODULES[name]).handle
    except KeyError:
        raise ValueError(f"unknown handler {name!r}; expected one of {sorted(HANDLER_MODULES)}") from None


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handlers may read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_ms: int = 300_000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.timeout_ms - (time.monotonic() - self.started) * 1000))


@dataclass
class RunStats:
    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    partial_failures: int = 0
    commits: int = 0


class HandlerRunner:
    """One consumer in the handler's group; ``run()`` loops until stopped."""

    def __init__(
        self,
        name: str,
        settings: Settings | None = None,
        batch_size: int | None = None,
        max_wait_ms: int | None = None,
        stop_event: threading.Event | None = None,
        group_id: str | None = None,
        resources: HandlerResources | None = None,
        invoke: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or get_settings()
        profile = batching(name, self.settings.handler_profile) if name in HANDLER_MODULES else None
        batch_size = batch_size if batch_size is not None else (profile.batch_size if profile else 100)
        max_wait_ms = max_wait_ms if max_wait_ms is not None else (profile.max_wait_ms if profile else 0)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.max_wait_s = max(0, max_wait_ms) / 1000.0
        self.fetch_wait_ms = profile.fetch_wait_ms if profile else 0
        self.stop_event = stop_event or threading.Event()
        self.group_id = group_id or group_id_for(name, self.settings)
        self.resources = resources or HandlerResources(self.settings)
        self.invoke = invoke or handler_function(name)
        self.arn = local_event_source_arn(self.settings.aws_region)
        self.stats = RunStats()
        self._pending: list[KafkaRecord] = []
        self._consumer: Any = None
        self._backoff = 0.0
        self._committed: dict[tuple[str, int], int] = {}

    # ------------------------------------------------------------------ Kafka
    def _make_consumer(self) -> Any:
        from confluent_kafka import Consumer

        from fraudstream.kafka_clients import bulk_fetch, consumer_config

        overrides: dict[str, Any] = {"session.timeout.ms": 6_000}
        if self.fetch_wait_ms:
            overrides.update(bulk_fetch(self.fetch_wait_ms))
        consumer = Consumer(consumer_config(self.group_id, self.settings, **overrides))
        consumer.subscribe([self.settings.topic_agg], on_assign=self._on_assign, on_revoke=self._on_revoke)
        return consumer

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        log.info("%s: assigned %s", self.name, sorted(p.partition for p in partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._pending = [r for r in self._pending if (r.topic, r.partition) not in revoked]
        log.info("%s: revoked %s", self.name, sorted(p.partition for p in partitions))

    def _collect(self) -> list[KafkaRecord]:
        """Up to batch_size records: blocks only for the first; then takes what has arrived, waiting at
        most ``max_wait`` for more (0 = no batching window: a lone record is handed over at once)."""
        self._pending = []
        first = self._consumer.poll(0.25)  # returns the moment one record is there
        if first is None or not self._accept(first):
            return []
        deadline = time.monotonic() + self.max_wait_s
        while len(self._pending) < self.batch_size and not self.stop_event.is_set():
            remaining = max(0.0, deadline - time.monotonic())
            messages = self._consumer.consume(num_messages=self.batch_size - len(self._pending), timeout=remaining)
            for message in messages:
                self._accept(message)
            if remaining <= 0 or not messages:
                break
        return list(self._pending)

    def _accept(self, message: Any) -> bool:
        """Add a fetched message to the batch; False for a (non-fatal) error event."""
        if message.error():
            if not message.error().fatal():
                log.warning("%s: consumer error %s", self.name, message.error())
                return False
            raise RuntimeError(f"fatal Kafka error: {message.error()}")
        self._pending.append(from_confluent(message))
        return True

    def _commit(self, positions: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if not positions:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        self._committed.update(positions)
        try:
            # asynchronous: the next batch need not wait for the broker; commits are sent in order, a
            # lost one only means re-delivery (at-least-once), and stopping commits synchronously
            self._consumer.commit(offsets=offsets, asynchronous=True)
            self.stats.commits += 1
        except KafkaException as exc:  # e.g. a rebalance: the records come again (at-least-once)
            log.warning("%s: commit failed (%s); records will be re-delivered", self.name, exc)

    def _final_commit(self) -> None:
        """Commit the last positions synchronously before leaving the group (clean stop, no re-delivery)."""
        from confluent_kafka import KafkaException, TopicPartition

        if not self._committed:
            return
        try:
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._committed.items()]
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("%s: final commit failed (%s); the last records will be re-delivered", self.name, exc)

    def _seek(self, positions: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        for (topic, partition), offset in positions.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # partition no longer ours: its new owner starts from the commit
                log.info("%s: seek %s-%d skipped (%s)", self.name, topic, partition, exc)

    # ------------------------------------------------------------------ one batch
    def process(self, records: list[KafkaRecord]) -> bool:
        """Invoke the handler on one batch and commit/seek as Lambda would; True when fully done."""
        event = build_event(records, self.arn, self.settings.kafka_bootstrap)
        starts = {tp: part[0].offset for tp, part in iter_partitions(records)}
        ends = {tp: part[-1].offset + 1 for tp, part in iter_partitions(records)}
        self.stats.batches += 1
        began = time.perf_counter()
        try:
            response = self.invoke(event, LocalContext(self.name), self.resources)
            first_failed = first_failed_offsets(response, records)
        except Exception as exc:  # the whole batch failed: rewind and retry, commit nothing
            handler_metrics.observe_batch(self.name, len(records), time.perf_counter() - began, "failed")
            self.stats.failed_batches += 1
            self._backoff = min(MAX_BACKOFF_S, max(0.2, self._backoff * 2))
            log.error(
                "%s: batch of %d failed (%s: %s); retrying in %.1fs",
                self.name,
                len(records),
                type(exc).__name__,
                exc,
                self._backoff,
            )
            self._seek(starts)
            self.stop_event.wait(self._backoff)
            return False
        self._backoff = 0.0
        commit = dict(ends)
        rewind: dict[tuple[str, int], int] = {}
        for tp, offset in first_failed.items():
            commit[tp] = offset
            rewind[tp] = offset
        self._commit(commit)
        if rewind:
            self.stats.partial_failures += 1
            log.warning("%s: partial failure, re-delivering from %s", self.name, rewind)
            self._seek(rewind)
        self.stats.records += len(records)
        outcome = "partial" if rewind else "ok"
        handler_metrics.observe_batch(self.name, len(records), time.perf_counter() - began, outcome)
        return not rewind

    # ------------------------------------------------------------------ loop
    def run(self) -> RunStats:
        """Consume until stopped; the batch in flight when stopping is finished and committed."""
        self._consumer = self._make_consumer()
        log.info("%s: consuming %s as group %s", self.name, self.settings.topic_agg, self.group_id)
        last_report = time.monotonic()
        trim = TrimSchedule(every_s=10.0)  # a lag peak's batches must not stay resident (fraudstream.memory)
        try:
            frozen = False
            while not self.stop_event.is_set():
                records = self._collect()
                if records:
                    self.process(records)
                    if not frozen:  # the first batch loaded the model, the clients and the caches
                        freeze_heap()
                        frozen = True
                if time.monotonic() - last_report > 10:
                    last_report = time.monotonic()
                    log.info("%s: %s", self.name, self.stats)
                    handler_metrics.observe_lag(self.name, self._consumer)
                trim.maybe_release()
        finally:
            self._final_commit()
            self._consumer.close()
            self.resources.close()
            log.info("%s: stopped: %s", self.name, self.stats)
        return self.stats


def freeze_heap() -> None:
    """Move everything alive now out of the cyclic collector's reach (``gc.freeze``).

    Why: a handler's heap after its first batch (the model, boto3 and Kafka clients, pydantic schemas)
    is ~100,000 objects that never become garbage, and each full collection walked all of them:
    measured in the fraud-scorer, 80-100 ms stalls of every verdict in flight. Frozen, a full
    collection only walks what was allocated since.
    """
    gc.collect()
    gc.freeze()


def run_handler(
    name: str,
    settings: Settings | None = None,
    batch_size: int | None = None,
    max_wait_ms: int | None = None,
    stop_event: threading.Event | None = None,
    **kwargs: Any,
) -> RunStats:
    """Run a handler until stopped; SIGTERM/SIGINT stop it gracefully when called from the main thread."""
    stop = stop_event or threading.Event()
    runner = HandlerRunner(name, settings, batch_size, max_wait_ms, stop, **kwargs)
    handler_metrics.serve_from_env()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    return runner.run()
