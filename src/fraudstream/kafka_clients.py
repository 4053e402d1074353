"""confluent-kafka client configurations and topic administration shared by every component."""

from __future__ import annotations

from typing import Any

from fraudstream.kafka_auth import auth_config
from fraudstream.settings import Settings, get_settings


def base_config(settings: Settings) -> dict[str, Any]:
    """Bootstrap servers plus the authentication the settings ask for (``FRAUDSTREAM_KAFKA_AUTH``)."""
    return {"bootstrap.servers": settings.kafka_bootstrap, **auth_config(settings.kafka_auth, settings.aws_region)}


def producer_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Idempotent producer: retries never duplicate or reorder a partition's records."""
    settings = settings or get_settings()
    cfg: dict[str, Any] = {
        **base_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        # Java's default partitioner (murmur2 of the key), so Python and JVM producers agree on a card's partition.
        "partitioner": "murmur2_random",
    }
    cfg.update(overrides)
    return cfg


def connected_producer(settings: Settings | None = None, timeout: float = 10.0, **overrides: Any) -> Any:
    """A producer (``producer_config`` plus ``overrides``) whose broker connection is up before it is used.

    Why: librdkafka's idempotent producer asks for its producer id the moment it is created; when no
    broker connection is up yet it retries only after 500 ms, and every record produced meanwhile
    waits for it. Measured on the local broker: the first ~0.5 s of a fresh producer's records took
    300-500 ms to reach the log, every later one about 1 ms. Fetching metadata first brings the
    connection up, and the id request goes out with it. A broker that cannot be reached within
    ``timeout`` raises ``KafkaException`` here rather than at the first record.
    """
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings, **overrides))
    producer.list_topics(timeout=timeout)
    return producer


def consumer_config(group_id: str, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Consumer that commits only when told to (at-least-once) and reads committed data only."""
    settings = settings or get_settings()
    cfg: dict[str, Any] = {
        **base_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    cfg.update(overrides)
    return cfg


LOG_APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
"""``transactions`` records carry the broker's append time, which only grows within a partition: the
cc-agg job's watermark is on it (see ``fraudstream.streaming.sql.ARRIVAL_TIME``)."""


def topic_config(topic: str, settings: Settings) -> dict[str, str]:
    """Topic-level configs a topic is created with: log-append time on the three topics of the verdict
    path (``transactions`` for the job's watermark; ``cc-agg`` and ``predictions`` so that every hop's
    time is on the records, see benchmarks/bench_latency.py)."""
    timed = (settings.topic_transactions, settings.topic_agg, settings.topic_predictions)
    return dict(LOG_APPEND_TIME) if topic in timed else {}


def _set_log_append_time(admin: Any, topics: list[str], timeout: float) -> None:
    """Make existing topics use log-append time (idempotent; a topic made before this setting existed)."""
    if not topics:
        return
    import logging

    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in LOG_APPEND_TIME.items()]
    resources = [ConfigResource(ResourceType.TOPIC, t, incremental_configs=entries) for t in topics]
    for resource, fut in admin.incremental_alter_configs(resources, request_timeout=timeout).items():
        try:
            fut.result()
        except Exception as exc:  # e.g. a managed cluster that refuses: the job still runs, see docs/streaming.md
            logging.getLogger(__name__).warning("could not set LogAppendTime on %s: %s", resource.name, exc)


def ensure_topics(
    settings: Settings | None = None,
    topics: tuple[str, ...] | None = None,
    partitions: int | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the missing topics (idempotent); returns the names that were created."""
    from confluent_kafka.admin import AdminClient, NewTopic

    settings = settings or get_settings()
    topics = topics or settings.all_topics
    admin = AdminClient(base_config(settings))
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in topics if t not in existing]
    _set_log_append_time(admin, [t for t in topics if t in existing and topic_config(t, settings)], timeout)
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                num_partitions=partitions or settings.partitions,
                replication_factor=1,
                config=topic_config(t, settings),
            )
            for t in missing
        ],
        operation_timeout=timeout,
    )
    created = []
    for name, fut in futures.items():
        try:
            fut.result()
            created.append(name)
        except Exception as exc:  # a concurrent creator is fine; anything else is not
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return created


def poll_for(producer: Any, seconds: float) -> None:
    """Serve a client's callbacks for about ``seconds`` without spinning.

    Why: confluent-kafka hands librdkafka the timeout in whole milliseconds (truncated), so
    ``poll(0.0008)`` returns at once, and a paced sender waiting out the last millisecond before its
    next record spun a core (a benchmark sender at 1,000 tx/s used 0.4 of a core of the 2 it
    measured). The sub-millisecond rest is slept instead.
    """
    if seconds >= 0.001:
        producer.poll(seconds)
    elif seconds > 0:
        import time

        time.sleep(seconds)
