"""Prometheus metrics of the endpoint, on a registry of its own (one per app, bounded label sets)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

KNOWN_PATHS = {"/ping": "ping", "/invocations": "invocations", "/metrics": "metrics", "/model": "model"}
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class EndpointMetrics:
    """Requests, errors (4xx and 5xx), server errors (5xx), connections closed on a limit, latency, rows
    scored and the model version being served."""

    def __init__(self, model_version: str, feature_set: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fraudstream_endpoint_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "fraudstream_endpoint_errors", "Refused or failed requests by reason", ["reason"], registry=self.registry
        )
        self.latency = Histogram(
            "fraudstream_endpoint_request_seconds",
            "Request latency inside the server",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.server_errors = Counter(
            "fraudstream_endpoint_server_errors",
            "5xx answers by reason (internal: unexpected exception; model: the model failed on valid rows); "
            "each one is logged with its traceback",
            ["reason"],
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "fraudstream_endpoint_connections_closed",
            "Connections the server closed on a limit (header_timeout, body_timeout, header_too_large)",
            ["reason"],
            registry=self.registry,
        )
        self.rows = Counter("fraudstream_endpoint_rows_scored", "Rows scored by the model", registry=self.registry)
        self.model = Gauge(
            "fraudstream_model_info",
            "The model being served (value 1)",
            ["version", "feature_set"],
            registry=self.registry,
        )
        self.model.labels(version=model_version, feature_set=feature_set).set(1)


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): times every HTTP request and counts its status."""

    def __init__(self, app: ASGIApp, metrics: EndpointMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = KNOWN_PATHS.get(scope.get("path", ""), "other")
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()
