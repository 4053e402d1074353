"""FastAPI app implementing the SageMaker inference container contract for the fraud model."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from fraudstream.model import registry
from fraudstream.serving.metrics import EndpointMetrics, MetricsMiddleware
from fraudstream.serving.parsing import (
    CSV,
    MAX_BODY_BYTES,
    InputError,
    format_csv,
    parse_body,
    request_format,
    response_format,
)
from fraudstream.serving.predictor import Predictor

log = logging.getLogger(__name__)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InputError(413, "too_large", f"body of {int(declared):,} bytes exceeds the limit of {limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, "too_large", f"body exceeds the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"error": reason, "message": message}, status_code=status)


def create_app(predictor: Predictor, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The endpoint around one loaded model."""
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

    @app.exception_handler(InputError)
    async def input_error(_: Request, exc: InputError) -> JSONResponse:
        metrics.errors.labels(exc.reason).inc()
        return _error(exc.status, exc.reason, exc.message)

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
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Every input problem is caught above with its own message; this is the safety net that keeps a
        # surprise (e.g. an input the model library rejects) a 4xx answer with its reason, never a bare 500.
        log.exception("unexpected error while handling a request")
        metrics.errors.labels("unexpected").inc()
        return _error(422, "unprocessable", f"request could not be scored: {type(exc).__name__}: {str(exc)[:300]}")

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
        kind = request_format(request.headers.get("content-type"))
        answer = response_format(request.headers.get("accept"), kind)
        body = await read_body(request, max_body_bytes)
        matrix = parse_body(body, kind, names)
        try:
            probabilities = predictor.predict(matrix).astype(float).tolist()
        except Exception as exc:  # the parsed matrix is valid, so this is the model refusing the input
            log.exception("model failed on a parsed request")
            raise InputError(422, "unprocessable", f"model could not score the rows: {str(exc)[:300]}") from None
        metrics.rows.inc(len(probabilities))
        if answer == CSV:
            return Response(format_csv(probabilities), media_type=CSV, headers=model_headers)
        payload = {
            "predictions": probabilities,
            "model_version": meta.version,
            "threshold": meta.threshold,
            "feature_set": meta.feature_set,
        }
        return Response(json.dumps(payload), media_type="application/json", headers=model_headers)

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def load_app(model_dir: str | Path, version: str = registry.LATEST, nthread: int = 1) -> FastAPI:
    return create_app(Predictor.load(model_dir, version, nthread))
