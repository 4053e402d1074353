"""FastAPI app implementing the SageMaker inference container contract for the fraud model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from fraudstream.model import registry
from fraudstream.serving.limits import ServingLimits
from fraudstream.serving.metrics import EndpointMetrics, MetricsMiddleware
from fraudstream.serving.parsing import (
    CSV,
    JSON,
    InputError,
    format_csv,
    format_json,
    parse_body,
    request_format,
    response_format,
)
from fraudstream.serving.predictor import Predictor

log = logging.getLogger(__name__)


class ServerError(Exception):
    """A fault of the server, not of the request: answered 5xx, logged with its cause, counted by ``reason``."""

    def __init__(self, reason: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class ClientGone(Exception):
    """The client disconnected (or the server closed the connection on a body timeout) mid-request."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise InputError(413, "too_large", f"body of {int(declared):,} bytes exceeds the limit of {limit:,} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise InputError(413, "too_large", f"body exceeds the limit of {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        if request.scope.get("fraudstream.closed") == "body_timeout":  # set by serving.protocol
            raise InputError(408, "body_timeout", "request body not received in time; connection closed") from None
        raise ClientGone() from None
    return b"".join(chunks)


def _error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"error": reason, "message": message}, status_code=status)


def create_app(predictor: Predictor, limits: ServingLimits | None = None) -> FastAPI:
    """The endpoint around one loaded model.

    ``/invocations`` reads the body on the event loop, then parses, scores and formats it in a worker
    thread (at most ``limits.max_inflight`` at once), so ``/ping`` and other requests are answered while
    a large request is being scored. A body of at most ``limits.inline_max_bytes`` (a few rows, about a
    millisecond at worst) is scored on the loop directly: the thread hop would cost more than the work.
    Input faults are 4xx with a message (``InputError``); anything else is a server fault: 500, logged
    with its traceback, counted in ``fraudstream_endpoint_server_errors``.
    """
    limits = limits or ServingLimits()
    meta = predictor.metadata
    names = list(meta.feature_names)
    metrics = EndpointMetrics(meta.version, meta.feature_set)
    model_headers = {
        "X-Model-Version": meta.version,
        "X-Threshold": repr(meta.threshold),
        "X-Feature-Set": meta.feature_set,
    }
    app = FastAPI(title="fraudstream endpoint", version=meta.version, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.predictor = predictor
    app.state.metrics = metrics
    app.state.limits = limits
    workers: dict[str, anyio.CapacityLimiter] = {}

    def server_fault(request: Request, reason: str, message: str, cause: BaseException | None) -> JSONResponse:
        log.error("server error (%s) on %s %s: %s", reason, request.method, request.url.path, message, exc_info=cause)
        metrics.errors.labels(reason).inc()
        metrics.server_errors.labels(reason).inc()
        return _error(500, reason, message)

    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        metrics.errors.labels(exc.reason).inc()
        return _error(exc.status, exc.reason, exc.message)

    @app.exception_handler(ServerError)
    async def server_error(request: Request, exc: ServerError) -> JSONResponse:
        return server_fault(request, exc.reason, exc.message, exc.__cause__ or exc)

    @app.exception_handler(ClientGone)
    async def client_gone(_: Request, exc: ClientGone) -> Response:
        metrics.errors.labels("client_disconnect").inc()
        return Response(status_code=499)  # nobody reads it; the status only labels the metrics

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        metrics.errors.labels(reason).inc()
        return _error(exc.status_code, reason, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.errors.labels("validation").inc()
        return _error(422, "validation", str(exc.errors())[:500])

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug outside /invocations (which turns its own surprises into ServerError): still a 5xx,
        # never disguised as an input problem, so the 5xx alarm of the templates can fire.
        return server_fault(request, "internal", f"internal server error ({type(exc).__name__}); it is logged", exc)

    def score(body: bytes, kind: str, answer: str) -> tuple[str, str, int]:
        """Parse, predict and format (in a worker thread, or inline for a tiny body); (content, media type, rows)."""
        matrix = parse_body(body, kind, names, limits)
        try:
            probabilities = predictor.predict(matrix).astype(float).tolist()
        except Exception as exc:  # the parsed matrix is valid, so this is the server's fault
            raise ServerError("model", f"the model failed on {len(matrix):,} valid row(s); it is logged") from exc
        if answer == CSV:
            return format_csv(probabilities), CSV, len(probabilities)
        content = format_json(
            probabilities, model_version=meta.version, threshold=meta.threshold, feature_set=meta.feature_set
        )
        return content, JSON, len(probabilities)

    @app.get("/ping")
    async def ping() -> JSONResponse:
        return JSONResponse({"status": "ok", "model_version": meta.version}, headers=model_headers)

    @app.get("/model")
    async def model() -> JSONResponse:
        return JSONResponse(json.loads(meta.model_dump_json()))

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        try:
            kind = request_format(request.headers.get("content-type"))
            answer = response_format(request.headers.get("accept"), kind)
            body = await read_body(request, limits.max_body_bytes)
            if len(body) <= limits.inline_max_bytes:  # a few rows: cheaper than the thread hop
                content, media, rows = score(body, kind, answer)
            else:
                if "limiter" not in workers:  # created on the server's event loop
                    workers["limiter"] = anyio.CapacityLimiter(limits.max_inflight)
                content, media, rows = await anyio.to_thread.run_sync(
                    score, body, kind, answer, limiter=workers["limiter"]
                )
        except (InputError, ServerError, ClientGone):
            raise
        except Exception as exc:
            raise ServerError("internal", f"internal server error ({type(exc).__name__}); it is logged") from exc
        metrics.rows.inc(rows)
        return Response(content, media_type=media, headers=model_headers)

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def load_app(
    model_dir: str | Path, version: str = registry.LATEST, nthread: int = 1, limits: ServingLimits | None = None
) -> FastAPI:
    return create_app(Predictor.load(model_dir, version, nthread), limits)
