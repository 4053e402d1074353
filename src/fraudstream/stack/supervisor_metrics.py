"""Prometheus metrics of the stack supervisor: restarts by service and which services are up.

Served on ``FRAUDSTREAM_SUPERVISOR_METRICS_PORT`` when it is set (unset by default: test sessions run
several supervisors at once, and the stack's fixed ports are already many). Names are in docs/metrics.md.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, start_http_server

from fraudstream.metrics_http import metrics_host
from fraudstream.settings import Settings

log = logging.getLogger(__name__)

RESTARTS = Counter(
    "fraudstream_supervisor_restarts",
    "Restarts the supervisor tried, by service and outcome (ok, failed)",
    ["service", "outcome"],
)
SERVICE_UP = Gauge(
    "fraudstream_supervisor_service_up", "1 when a supervised service's process runs, 0 while it is down", ["service"]
)


def serve_from_env() -> int | None:
    """Start the /metrics server on ``FRAUDSTREAM_SUPERVISOR_METRICS_PORT`` when set; a taken port is logged."""
    port = Settings().supervisor_metrics_port
    if not port:
        return None
    try:
        start_http_server(port, addr=metrics_host())
    except OSError as exc:  # metrics are advisory: supervision must go on
        log.warning("supervisor metrics not served on port %s (%s)", port, exc)
        return None
    return port
