"""Prometheus metrics of the processes that write to Kafka outside the handlers: the producer, the
replay and the stream clock (process-wide default registry, like ``handlers/metrics.py``).

Why the default registry: one command runs in one process, and a replay's in-process stream clock
then shows on the same ``/metrics`` as the replay itself. The counters always count; they are
served only when a port is configured: ``FRAUDSTREAM_PRODUCER_METRICS_PORT`` for ``fraudstream
produce`` and ``fraudstream replay`` (and the demo, which runs both), ``FRAUDSTREAM_CLOCK_METRICS_PORT``
for the ``fraudstream clock`` service. Names are in docs/metrics.md.
"""

from __future__ import annotations

import logging
import math
import time

from prometheus_client import Counter, Gauge, start_http_server

from fraudstream.metrics_http import metrics_host
from fraudstream.settings import Settings, env_name

log = logging.getLogger(__name__)
PRODUCER_PORT = "producer_metrics_port"
CLOCK_PORT = "clock_metrics_port"
"""The settings fields holding the producer's and the clock's /metrics ports."""
PRODUCER_PORT_ENV = env_name(PRODUCER_PORT)
CLOCK_PORT_ENV = env_name(CLOCK_PORT)

SENT = Counter(
    "fraudstream_producer_sent",
    "Records handed to Kafka by the producer or the replay (delivered = sent - failed)",
    ["producer", "topic"],
)
FAILED = Counter(
    "fraudstream_producer_failed",
    "Records Kafka did not take: a failed delivery, or still queued when the final flush gave up",
    ["producer", "topic"],
)
HEARTBEATS = Counter(
    "fraudstream_clock_heartbeats", "Heartbeat records the stream clock handed to Kafka (one per partition per beat)"
)
CLOCK_FAILURES = Counter(
    "fraudstream_clock_failures",
    "Heartbeats that failed: a failed delivery, a beat dropped on a full queue, or a beat that raised",
)
LAST_BEAT_AGE = Gauge(
    "fraudstream_clock_last_beat_age_seconds",
    "Seconds since the clock's last beat was handed to Kafka (NaN before one)",
)

_last_beat: list[float] = []
_served: dict[int, object] = {}


def beat_done(sent: int) -> None:
    """A beat of ``sent`` heartbeat records was queued: count it and reset the age gauge."""
    HEARTBEATS.inc(sent)
    _last_beat[:] = [time.time()]


def _beat_age() -> float:
    return time.time() - _last_beat[0] if _last_beat else math.nan


LAST_BEAT_AGE.set_function(_beat_age)


def serve_from_env(field: str) -> int | None:
    """Serve the default registry on the port of the settings field ``field`` when its variable is set
    (once per process); never fails the caller. A default alone does not serve: the stack passes the
    clock's port explicitly, and a test session's clocks must not all bind the default 8091.

    A port already in use (another run still scraping) is logged and skipped: metrics are advisory,
    and a produce or replay run must not fail for them.
    """
    settings = Settings()
    port = getattr(settings, field) if field in settings.model_fields_set else None
    if not port:
        return None
    if port not in _served:
        try:
            _served[port] = start_http_server(port, addr=metrics_host())
        except OSError as exc:
            log.warning("metrics not served on port %s (%s)", port, exc)
            return None
    return port
