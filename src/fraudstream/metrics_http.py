"""Where the processes' own /metrics servers bind (clock, producer, replay, handler runners).

A module of its own, importing no metric: importing it must not add metric families to a process's
default registry (the handlers' /metrics would show the clock's otherwise).
"""

from __future__ import annotations

from prometheus_client import start_http_server

from fraudstream.settings import Settings, env_name

HOST_ENV = env_name("metrics_host")


def metrics_host() -> str:
    """Loopback unless ``FRAUDSTREAM_METRICS_HOST`` says otherwise (a container sets 0.0.0.0 so that a
    scraper in another container reaches it)."""
    return Settings().metrics_host or "127.0.0.1"


def serve_metrics(port: int | None) -> int | None:
    """Serve the process's default registry on ``port`` at ``metrics_host()``; None or 0: not served."""
    if not port:
        return None
    start_http_server(port, addr=metrics_host())
    return port
