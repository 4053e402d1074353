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
import os
import time

from prometheus_client import Counter, Gauge, start_http_server

from fraudstream.metrics_http import metrics_host

log = logging.getLogger(__name__)
PRODUCER_PORT_ENV = "FRAUDSTREAM_PRODUCER_METRICS_PORT"
CLOCK_PORT_ENV = "FRAUDSTREAM_CLOCK_METRICS_PORT"

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


def serve_from_env(env: str) -> int | None:
    """Serve the default registry on the port in ``env`` (once per process); never fails the caller.

    A port already in use (another run still scraping) is logged and skipped: metrics are advisory,
    and a produce or replay run must not fail for them.
    """
    value = os.environ.get(env)
    if not value:
        return None
    port = int(value)
    if port not in _served:
        try:
            _served[port] = start_http_server(port, addr=metrics_host())
        except OSError as exc:
            log.warning("metrics not served on port %s (%s)", port, exc)
            return None
    return port
