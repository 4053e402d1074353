"""The monitor's Kafka loop: poll ``predictions``, ``labels`` and ``dead-letter``; apply each poll to
the store in one transaction with its offsets; seek to the stored offsets on every assignment.

Offsets live in the store, not in Kafka's group offsets, so that data and position can never disagree
(a crash between the two is impossible: they are one SQLite transaction).
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError

from fraudstream.dead_letter import DeadLetterPublisher
from fraudstream.kafka_clients import bulk_fetch, connected_producer, consumer_config
from fraudstream.monitor.ingest import BatchBuilder
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.monitor.store import MonitorStore
from fraudstream.settings import Settings

log = logging.getLogger(__name__)
STAGE = "monitor"
POLL_RECORDS = 500
BULK_FETCH_WAIT_MS = 250  # figures span minutes: a quarter second later costs nothing (see kafka_clients.bulk_fetch)


class MonitorConsumer:
    """Consumes until :meth:`stop`; ``poll_once`` is the unit the tests drive directly."""

    def __init__(self, settings: Settings, store: MonitorStore, metrics: MonitorMetrics, group_id: str) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.topics = [settings.topic_predictions, settings.topic_labels, settings.topic_dead_letter]
        self.consumer = Consumer(consumer_config(group_id, settings, **bulk_fetch(BULK_FETCH_WAIT_MS)))
        self.producer = connected_producer(settings)
        self.dead_letters = DeadLetterPublisher(self.producer, settings)
        self._stop = threading.Event()
        self.consumer.subscribe(self.topics, on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, partitions: list) -> None:
        stored = self.store.offsets()
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)

    def poll_once(self, timeout: float = 0.5) -> int:
        """One poll applied to the store; returns how many records it held."""
        messages = self.consumer.consume(POLL_RECORDS, timeout)
        if not messages:
            return 0
        builder = BatchBuilder(self.settings)
        for m in messages:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("monitor consume error: %s", m.error())
                continue
            builder.add(m.topic(), m.partition(), m.offset(), m.value())
        for bad in builder.rejected:
            self.metrics.rejected.labels(bad.topic).inc()
            log.warning("monitor rejected %s[%d]@%d: %s", bad.topic, bad.partition, bad.offset, bad.error)
            if bad.topic != self.settings.topic_dead_letter:
                self.dead_letters.publish(STAGE, bad.topic, bad.partition, bad.offset, bad.error, bad.value)
        if builder.rejected:
            self.producer.flush(10)
        batch = builder.build()
        self.store.apply(batch)
        for topic, rows in (
            (self.settings.topic_predictions, batch.predictions),
            (self.settings.topic_labels, batch.labels),
            (self.settings.topic_dead_letter, batch.dead_letters),
        ):
            if rows:
                self.metrics.consumed.labels(topic).inc(len(rows))
        return len(messages)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep the service alive; the error is logged with its traceback
                log.exception("monitor poll failed")
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(5)
