"""confluent-kafka client configurations, topic administration, delivery tracking and the send loop,
shared by every component (producer, replay, handlers, the topics custom resource)."""

from __future__ import annotations

import threading
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


PREFETCH_LIMITS: dict[str, Any] = {
    "queued.max.messages.kbytes": 8 * 1024,
    "queued.min.messages": 10_000,
    "fetch.queue.backoff.ms": 50,
}
"""How much a consumer reads ahead of its application (librdkafka's local queue).

Why: librdkafka's defaults prefetch up to 64 MiB and 100,000 records per partition. A reader that
falls behind (a catch-up, a burst the agg-writer cannot absorb at once) fills that queue and keeps
the memory: in a 30-minute soak the agg-writer, lake archiver and monitor each grew by 40-170 MiB
at the one lag peak and never came back down. Measured on the local broker, a slow reader of a
400,000-record backlog on 4 partitions: peak RSS 98 MiB with the defaults, 44 MiB with these
limits, in the same time (6.2 s against 6.0 s). The 50 ms queue back-off matters: with the default
1 s, a reader that drains its bounded queue waits a second for the next fetch, and the same
backlog took 31 s.
"""


def consumer_config(group_id: str, settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Consumer that commits only when told to (at-least-once), reads committed data only and reads
    ahead a bounded amount (``PREFETCH_LIMITS``)."""
    settings = settings or get_settings()
    cfg: dict[str, Any] = {
        **base_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        **PREFETCH_LIMITS,
    }
    cfg.update(overrides)
    return cfg


def bulk_fetch(wait_ms: int) -> dict[str, Any]:
    """Consumer overrides for a reader off the verdict path (agg-writer, lake archiver, monitor).

    Why: by default the broker answers a fetch the moment one record is there, so at 1,000 tx/s
    every consumer of a topic sends about a thousand fetch requests a second; on a laptop the
    broker's CPU for them (0.44 of a core with seven consumers) is taken from the verdict path.
    A reader that batches anyway lets the broker hold its fetch for ``wait_ms`` (``fetch.min.bytes``
    is set above what arrives in that time), so it costs a few requests a second; its records are
    at most ``wait_ms`` later.
    """
    return {"fetch.wait.max.ms": int(wait_ms), "fetch.min.bytes": 4 * 1024 * 1024}


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
    replication_factor: int = 1,
) -> list[str]:
    """Create the missing topics (idempotent); returns the names that were created.

    ``replication_factor=-1`` takes the cluster's default (MSK); the local broker has one node.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    settings = settings or get_settings()
    topics = topics or settings.all_topics
    config = base_config(settings)
    admin = AdminClient(config)
    if "oauth_cb" in config:
        admin.poll(5)  # fetch the first OAUTHBEARER token (MSK IAM) before the first request
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
                replication_factor=replication_factor,
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
    _wait_for_leaders(admin, missing, timeout)
    return created


def _wait_for_leaders(admin: Any, topics: list[str], timeout: float) -> None:
    """Return once every partition of ``topics`` has a leader.

    Why: CreateTopics answers before the partitions are served; on a loaded machine a client that
    used a new topic at once found it missing from the metadata for about 1.5 s and then got
    NOT_LEADER_FOR_PARTITION until the leaders were elected.
    """
    from fraudstream.waiting import wait_until

    def served(topic: str, metadata: Any) -> bool:
        meta = metadata.topics.get(topic)
        return (
            meta is not None
            and meta.error is None
            and bool(meta.partitions)
            and all(p.leader >= 0 and p.error is None for p in meta.partitions.values())
        )

    def all_served() -> bool:
        metadata = admin.list_topics(timeout=max(1.0, timeout))
        return all(served(t, metadata) for t in topics)

    if topics:
        wait_until(all_served, timeout, f"a leader for every partition of {topics}", interval=0.1)


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


class DeliveryTracker:
    """A delivery callback (``on_delivery``) that counts failed deliveries per topic and keeps their errors.

    One class for every producer: the bulk producer asks librdkafka for failure reports only, the
    handlers and the replay for every report; successes are ignored either way. Thread-safe (reports
    are served by whichever thread polls or flushes). ``metrics_name`` also counts each failure in
    ``fraudstream_producer_failed{producer=...}`` (:mod:`fraudstream.kafka_metrics`).
    """

    KEPT_ERRORS = 10_000
    """Error messages kept (a dead broker fails every queued record); more than any handler batch."""

    def __init__(self, metrics_name: str | None = None) -> None:
        self.failed: dict[str, int] = {}
        self.errors: list[str] = []
        self.metrics_name = metrics_name
        self._lock = threading.Lock()

    def __call__(self, err: Any, msg: Any) -> None:
        if err is None:
            return
        topic = (msg.topic() if msg is not None else None) or "?"
        with self._lock:
            self.failed[topic] = self.failed.get(topic, 0) + 1
            if len(self.errors) < self.KEPT_ERRORS:
                self.errors.append(f"{topic}: {err}")
        if self.metrics_name is not None:
            from fraudstream import kafka_metrics

            kafka_metrics.FAILED.labels(self.metrics_name, topic).inc()

    @property
    def first_error(self) -> str | None:
        return self.errors[0] if self.errors else None

    def failed_on(self, topic: str) -> int:
        return self.failed.get(topic, 0)


def produce_waiting(producer: Any, topic: str, value: bytes, key: bytes | None = None, **kwargs: Any) -> None:
    """``produce`` that waits for room instead of failing when the local queue is full (``BufferError``):
    serving delivery reports is what frees the queue."""
    while True:
        try:
            producer.produce(topic, value, key, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)
