"""Prometheus metrics of the lake archiver (process-wide default registry, like the handler runners').

Why the default registry: one archiver process runs one archiver, and its dead letters are counted
by ``fraudstream_dead_letters_published{stage="lake-archiver"}`` on the same registry. Served on
``FRAUDSTREAM_LAKE_METRICS_PORT`` when it is set (docker-compose sets it); names are in docs/metrics.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream.metrics_http import serve_metrics

log = logging.getLogger(__name__)

RECORDS = Counter("fraudstream_lake_records", "Records archived to the lake (durably written), by topic", ["topic"])
FILES = Counter("fraudstream_lake_files", "Parquet files written to the lake, by topic", ["topic"])
BYTES = Counter(
    "fraudstream_lake_bytes", "Bytes of Parquet written to a local lake, by topic (s3:// not counted)", ["topic"]
)
ERRORS = Counter("fraudstream_lake_errors", "Flushes that raised: nothing committed, the records are re-delivered")
CONSUMER_LAG = Gauge(
    "fraudstream_lake_consumer_lag", "Records the archiver is behind the partition's end", ["partition"]
)


class LakeMetricsSettings(BaseSettings):
    """The archiver's /metrics port (``FRAUDSTREAM_LAKE_METRICS_PORT``); unset: not served."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_LAKE_")

    metrics_port: int | None = None


def observe_file(topic: str, records: int, path: str) -> None:
    """One Parquet file of ``records`` rows of ``topic`` is durably written at ``path``."""
    RECORDS.labels(topic).inc(records)
    FILES.labels(topic).inc()
    if "://" not in path:
        BYTES.labels(topic).inc(Path(path).stat().st_size)


def observe_lag(consumer: Any) -> None:
    """Lag per assigned partition from the watermarks the fetches brought (no broker round trip); never raises."""
    try:
        for tp in consumer.position(consumer.assignment()):
            _, high = consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high >= 0:
                CONSUMER_LAG.labels(f"{tp.topic}-{tp.partition}").set(max(0, high - tp.offset))
    except Exception as exc:  # lag is advisory; a broker hiccup must not stop the archiver
        log.debug("lake archiver: consumer lag not read (%s)", exc)


def serve_from_env() -> int | None:
    """Start the /metrics server on ``FRAUDSTREAM_LAKE_METRICS_PORT`` when it is set."""
    return serve_metrics(LakeMetricsSettings().metrics_port)
