"""HTTP of the monitor (stdlib, one port): ``/`` the dashboard, ``/api/figures`` the JSON snapshot,
``/metrics`` Prometheus text, ``/healthz``. Unknown paths are 404 with a message."""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def _clean(value: Any) -> Any:
    """NaN/inf are not JSON: None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def dashboard_html() -> bytes:
    return resources.files("fraudstream.monitor").joinpath("dashboard.html").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: MonitorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the dashboard polls every 2 s
        return

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        monitor = self.server.monitor
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, dashboard_html(), "text/html; charset=utf-8")
        elif path == "/api/figures":
            self._send(200, json.dumps(_clean(monitor.snapshot)).encode(), "application/json")
        elif path == "/metrics":
            self._send(200, generate_latest(monitor.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._send(200, b'{"status":"ok"}', "application/json")
        else:
            self._send(404, json.dumps({"error": f"no such path {path!r}"}).encode(), "application/json")


class MonitorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], monitor: Any) -> None:
        self.monitor = monitor
        super().__init__(address, _Handler)
