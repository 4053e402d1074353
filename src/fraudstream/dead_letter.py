"""Publishing rejected records to the ``dead-letter`` topic, so nothing is dropped silently.

The publisher shares the caller's producer: the handler flushes it once per batch, and the batch
is acknowledged (offsets committed) only after the dead letters are durable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fraudstream.handlers.metrics import DEAD_LETTERS
from fraudstream.messages import DeadLetter, encode, payload_text
from fraudstream.settings import Settings, get_settings

MAX_ERROR_CHARS = 2000
# A dead letter must itself fit on the topic (Kafka's default limit is 1 MiB): a 1 MB field would
# otherwise make the dead letter too large to produce and stall the batch. The head is kept.
MAX_PAYLOAD_BYTES = 64 * 1024


def capped_payload(payload: bytes | str | None) -> tuple[bytes | str | None, str]:
    """The payload cut to ``MAX_PAYLOAD_BYTES`` and a note for the error text when it was cut."""
    raw = payload.encode("utf-8", errors="surrogateescape") if isinstance(payload, str) else payload
    if raw is None or len(raw) <= MAX_PAYLOAD_BYTES:
        return payload, ""
    return raw[:MAX_PAYLOAD_BYTES], f" [payload truncated to its first {MAX_PAYLOAD_BYTES} of {len(raw)} bytes]"


class DeadLetterPublisher:
    """Writes a :class:`~fraudstream.messages.DeadLetter` per rejected record (keyed by its origin)."""

    def __init__(self, producer: Any, settings: Settings | None = None) -> None:
        self.producer = producer
        self.settings = settings or get_settings()
        self.published = 0

    def publish(
        self,
        stage: str,
        source_topic: str,
        partition: int | None,
        offset: int | None,
        error: str | BaseException,
        payload: bytes | str | None,
        on_delivery: Any = None,
    ) -> DeadLetter:
        """Queue one dead letter on the producer; the caller flushes (and checks delivery)."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        payload, cut = capped_payload(payload)
        text = (text or "unknown error")[: MAX_ERROR_CHARS - len(cut)] + cut
        letter = DeadLetter(
            stage=stage,
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            error=(text or "unknown error")[:MAX_ERROR_CHARS],
            payload=payload_text(payload),
            failed_at=datetime.now(UTC),
        )
        key = f"{source_topic}-{partition}-{offset}".encode()
        kwargs = {"on_delivery": on_delivery} if on_delivery is not None else {}
        self.producer.produce(self.settings.topic_dead_letter, key=key, value=encode(letter), **kwargs)
        self.published += 1
        DEAD_LETTERS.labels(stage).inc()
        return letter

    def reject(self, stage: str, record: Any, error: str | BaseException, on_delivery: Any = None) -> DeadLetter:
        """Dead-letter a consumed record (anything with topic, partition, offset and value)."""
        return self.publish(stage, record.topic, record.partition, record.offset, error, record.value, on_delivery)
