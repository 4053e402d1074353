"""Helpers for the handler tests: Kafka I/O on isolated topics and a real scoring endpoint."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.messages import CardAggregate, encode
from fraudstream.settings import Settings


class KafkaIO:
    """Produce to and read back from the real broker of a test's isolated topics."""

    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import Producer

        from fraudstream.kafka_clients import producer_config

        self.settings = settings
        self.producer = Producer(producer_config(settings))

    def produce(self, topic: str, items: list[tuple[bytes | None, bytes]], partition: int | None = None, **kw) -> None:
        for key, value in items:
            extra = {"partition": partition} if partition is not None else {}
            self.producer.produce(topic, key=key, value=value, **extra, **kw)
        assert self.producer.flush(30) == 0

    def produce_aggs(self, aggs: list[CardAggregate | bytes]) -> None:
        """Aggregates keyed by card (raw bytes = a poison record, produced to partition 0)."""
        for agg in aggs:
            if isinstance(agg, bytes):
                self.producer.produce(self.settings.topic_agg, key=b"poison", value=agg, partition=0)
            else:
                self.producer.produce(self.settings.topic_agg, key=agg.cc_num.encode(), value=encode(agg))
        assert self.producer.flush(30) == 0

    def read(self, topic: str, expected: int, timeout: float = 60.0) -> list:
        """Every record of ``topic`` from the beginning, waiting until ``expected`` arrived (or timeout)."""
        from confluent_kafka import Consumer

        from fraudstream.kafka_clients import consumer_config

        consumer = Consumer(consumer_config(f"test-read-{uuid.uuid4().hex}", self.settings))
        consumer.subscribe([topic])
        out = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < expected and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=500, timeout=0.5):
                    if msg.error() is None:
                        out.append(msg)
            # a short grace period catches records beyond the expected count (duplicates, extras)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                out.extend(m for m in consumer.consume(num_messages=500, timeout=0.2) if m.error() is None)
        finally:
            consumer.close()
        return out


@pytest.fixture
def kafka_io(isolated_settings: Settings) -> Iterator[KafkaIO]:
    io = KafkaIO(isolated_settings)
    yield io
    io.producer.flush(10)


@pytest.fixture(scope="session")
def scoring_endpoint(endpoint_url: str, trained_model_dir: Path) -> tuple[str, Path]:
    """``(url, model_dir)`` of the session's real endpoint process and its model registry."""
    return endpoint_url.rstrip("/"), Path(trained_model_dir)


@pytest.fixture
def scorer_settings(isolated_settings: Settings, scoring_endpoint: tuple[str, Path]) -> Settings:
    """Isolated topics/tables plus the endpoint and its model registry."""
    url, model_dir = scoring_endpoint
    return isolated_settings.model_copy(update={"endpoint_url_override": url, "model_dir": model_dir})
