"""The archiving consumer: ``transactions``, ``labels`` and ``predictions`` into the lake.

Why a separate consumer rather than Flink's filesystem sink in the cc-agg job: the cc-agg job is
on the latency path (checkpoint interval and state size tuned for it) and only reads
``transactions``; a Parquet sink there would tie file rolling to its checkpoints, add two topics
to its sources and put the Flink Parquet format jars on its classpath. The archiver is a small
handler-style service (like the handler runners): it decodes each record with the same models
as every other reader, dead-letters what does not decode (with the reason), skips the clock's
heartbeats, and commits its Kafka offsets only after the Parquet files holding those records
are durably written. A crash between the write and the commit re-delivers the batch, so the
lake is at-least-once; readers de-duplicate by ``tid`` (:mod:`fraudstream.lake.spark_reader`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fraudstream.dead_letter import DeadLetterPublisher
from fraudstream.kafka_clients import bulk_fetch, consumer_config, producer_config
from fraudstream.lake import metrics
from fraudstream.lake.layout import ARCHIVED, OFFSET_COLUMN, PARTITION_COLUMN, ArchivedTopic
from fraudstream.lake.writer import write_part
from fraudstream.memory import release_freed_memory
from fraudstream.messages import DecodeError, decode, is_heartbeat
from fraudstream.settings import Settings, get_settings

STAGE = "lake-archiver"
GROUP_ID = "fraudstream-lake-archiver"
BULK_FETCH_WAIT_MS = 500  # the lake is written in files of many records: no need to fetch each one
LAG_EVERY_S = 5.0  # the consumer-lag gauge's refresh (cached watermarks: no broker request)
log = logging.getLogger("fraudstream.lake")


@dataclass
class ArchiveStats:
    """Counters of one archiver run (printed by the CLI, checked by tests)."""

    archived: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    dead_lettered: int = 0
    heartbeats: int = 0
    files: int = 0
    flushes: int = 0


def topic_map(settings: Settings) -> dict[str, ArchivedTopic]:
    """Kafka topic name (as configured) → the lake topic it is archived as."""
    names = {
        "transactions": settings.topic_transactions,
        "labels": settings.topic_labels,
        "predictions": settings.topic_predictions,
    }
    return {names[t.kind]: t for t in ARCHIVED}


class LakeArchiver:
    """Consumes the archived topics and writes one Parquet file per (topic, day) per flush."""

    def __init__(
        self,
        settings: Settings | None = None,
        lake_dir: str | None = None,
        group_id: str = GROUP_ID,
        flush_records: int | None = None,
        flush_interval_s: float | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.lake_dir = str(lake_dir or self.settings.lake_dir)
        self.group_id = group_id
        self.flush_records = flush_records or self.settings.lake_flush_records
        interval = self.settings.lake_flush_interval_s if flush_interval_s is None else flush_interval_s
        self.flush_interval_s = interval
        self.topics = topic_map(self.settings)
        self.stats = ArchiveStats()
        self._buffer: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        self._buffered = 0
        self._oldest: float | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._dead_letters: DeadLetterPublisher | None = None

    # ------------------------------------------------------------------ records
    def add(self, topic_name: str, partition: int, offset: int, value: bytes | None) -> None:
        """Decode one record into the buffer; heartbeats are skipped, bad records dead-lettered."""
        topic = self.topics[topic_name]
        if topic.kind == "transactions" and is_heartbeat(value):
            self.stats.heartbeats += 1
            return
        try:
            record = decode(topic.model, value)
        except DecodeError as exc:
            assert self._dead_letters is not None
            self._dead_letters.publish(STAGE, topic_name, partition, offset, exc, value)
            self.stats.dead_lettered += 1
            return
        row = record.model_dump()
        row[PARTITION_COLUMN], row[OFFSET_COLUMN] = partition, offset
        day = getattr(record, topic.day_field).date()
        self._buffer[(topic.kind, day)].append(row)
        self._buffered += 1
        if self._oldest is None:
            self._oldest = time.monotonic()

    def due(self) -> bool:
        """A flush is due: enough records buffered, or the oldest has waited the flush interval."""
        if self._buffered >= self.flush_records:
            return True
        return self._oldest is not None and time.monotonic() - self._oldest >= self.flush_interval_s

    def flush(self) -> None:
        """Write every buffered (topic, day) group, make dead letters durable, then commit offsets."""
        try:
            self._flush()
        except Exception:
            metrics.ERRORS.inc()
            raise

    def _flush(self) -> None:
        by_kind = {t.kind: t for t in ARCHIVED}
        for (kind, day), rows in sorted(self._buffer.items()):
            path = write_part(self.lake_dir, by_kind[kind], day, rows)
            metrics.observe_file(kind, len(rows), path)
            self.stats.archived[kind] += len(rows)
            self.stats.files += 1
        self._buffer.clear()
        self._buffered, self._oldest = 0, None
        if self._producer is not None:
            remaining = self._producer.flush(30)
            if remaining:
                raise RuntimeError(f"{remaining} dead letter(s) not delivered; offsets not committed")
        if self._consumer is not None:
            try:
                self._consumer.commit(asynchronous=False)
            except Exception as exc:  # nothing consumed since the last commit
                if "NO_OFFSET" not in str(exc):
                    raise
        self.stats.flushes += 1
        release_freed_memory()  # a catch-up's large buffers must not stay resident (fraudstream.memory)

    # ------------------------------------------------------------------ loop
    def run(self, stop: threading.Event | None = None, idle_exit_s: float | None = None) -> ArchiveStats:
        """Archive until ``stop`` is set (or, when given, after ``idle_exit_s`` without records)."""
        from confluent_kafka import Consumer, KafkaError, Producer

        stop = stop or threading.Event()
        metrics.serve_from_env()
        self._producer = Producer(producer_config(self.settings))
        self._dead_letters = DeadLetterPublisher(self._producer, self.settings)
        self._consumer = Consumer(consumer_config(self.group_id, self.settings, **bulk_fetch(BULK_FETCH_WAIT_MS)))

        def on_revoke(consumer: Any, partitions: Any) -> None:  # keep at-least-once across rebalances
            if self._buffered:
                self.flush()

        self._consumer.subscribe(list(self.topics), on_revoke=on_revoke)
        last_record = last_lag = time.monotonic()
        try:
            while not stop.is_set():
                messages = self._consumer.consume(num_messages=5_000, timeout=0.5)
                for msg in messages:
                    if msg.error():
                        if msg.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("consumer error: %s", msg.error())
                        continue
                    self.add(msg.topic(), msg.partition(), msg.offset(), msg.value())
                if messages or (idle_exit_s is not None and not self._consumer.assignment()):
                    last_record = time.monotonic()  # idle only counts once the group gave us partitions
                if self.due():
                    self.flush()
                if time.monotonic() - last_lag >= LAG_EVERY_S:
                    metrics.observe_lag(self._consumer)
                    last_lag = time.monotonic()
                if idle_exit_s is not None and time.monotonic() - last_record >= idle_exit_s:
                    break
            self.flush()
        finally:
            self._consumer.close()
            self._producer.flush(10)
        return self.stats
