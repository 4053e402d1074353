"""Long-lived clients a handler reuses across invocations (a warm Lambda container or the runner).

Created lazily: the agg-writer never opens an endpoint client, and a Lambda cold start pays only
for what its handler touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fraudstream.kafka_clients import DeliveryTracker
from fraudstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from fraudstream.featurestore.online_store import OnlineStore


class DeliveryError(RuntimeError):
    """Produced records (predictions, dead letters) were not acknowledged by Kafka."""


class HandlerResources:
    """Settings, Kafka producer, feature store, the scorer's 1-week feature cache and endpoint for the handlers."""

    def __init__(
        self,
        settings: Settings | None = None,
        producer: Any = None,
        store: OnlineStore | None = None,
        endpoint: Any = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._producer = producer
        self._store = store
        self._endpoint = endpoint
        self._batch_cache: Any = None

    @property
    def producer(self) -> Any:
        if self._producer is None:
            from fraudstream.kafka_clients import connected_producer

            # no batching delay: predictions are on the verdict path (the handler flushes per batch)
            self._producer = connected_producer(self.settings, **{"linger.ms": 0})
        return self._producer

    @property
    def store(self) -> OnlineStore:
        if self._store is None:
            from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore

            self._store = DynamoFeatureStore(self.settings)
        return self._store

    @property
    def batch_cache(self) -> Any:
        """The fraud-scorer's versioned cache of the 1-week features (kept as long as the resources)."""
        if self._batch_cache is None:
            from fraudstream.featurestore.batch_cache import BatchFeatureCache

            self._batch_cache = BatchFeatureCache(
                self.store,
                check_interval_s=self.settings.batch_cache_check_interval_s,
                max_cards=self.settings.batch_cache_max_cards,
                prefetch_max_cards=self.settings.batch_cache_prefetch_max_cards,
                background=True,  # the marker read never stalls a verdict
            )
        return self._batch_cache

    @property
    def endpoint(self) -> Any:
        if self._endpoint is None:
            from fraudstream.endpoint_client import endpoint_from_settings

            self._endpoint = endpoint_from_settings(self.settings)
        return self._endpoint

    def close(self) -> None:
        """Stop the 1-week cache's watcher thread (the clients close with the process)."""
        if self._batch_cache is not None:
            self._batch_cache.close()

    def flush(self, tracker: DeliveryTracker, timeout: float = 30.0) -> None:
        """Wait until every produced record is acknowledged; raise if any was not."""
        if self._producer is None:
            return
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} produced records not acknowledged within {timeout:.0f}s")
        if tracker.errors:
            raise DeliveryError(f"{len(tracker.errors)} produced records failed: {tracker.errors[:3]}")


_default: HandlerResources | None = None


def default_resources() -> HandlerResources:
    """Process-wide resources (a Lambda container keeps them between invocations)."""
    global _default
    if _default is None:
        _default = HandlerResources()
    return _default
