"""CLI command: ``serve`` — the SageMaker-style model endpoint (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from fraudstream.serving.limits import ServingLimits

_DEFAULTS = ServingLimits()


def _limit(field: str, flag: str, what: str) -> typer.models.OptionInfo:
    """An option for one serving limit, also read from its FRAUDSTREAM_SERVE_* variable."""
    return typer.Option(
        None,
        flag,
        envvar=ServingLimits.env_name(field),
        help=f"{what} (default {getattr(_DEFAULTS, field):,})",
        show_default=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""

    @app.command("serve")
    def serve(
        model: str | None = typer.Option(None, "--model", help="Model version. [settings model_version: latest]"),
        model_dir: Path | None = typer.Option(
            None,
            "--model-dir",
            help="Registry (or one version) directory (default /opt/ml/model if it holds a model, else settings).",
        ),
        host: str | None = typer.Option(None, "--host", help="[settings serve_host, else host]"),
        port: int | None = typer.Option(
            None, "--port", help="[settings: SAGEMAKER_BIND_TO_PORT, else endpoint_port: 8080]"
        ),
        log_level: str = typer.Option("warning", "--log-level"),
        max_rows: int | None = _limit("max_rows", "--max-rows", "Rows per request; more get 413."),
        max_body_bytes: int | None = _limit("max_body_bytes", "--max-body-bytes", "Body size; larger get 413."),
        max_field_chars: int | None = _limit("max_field_chars", "--max-field-chars", "Characters per number (400)."),
        max_header_bytes: int | None = _limit(
            "max_header_bytes", "--max-header-bytes", "Request line + headers; larger get 431."
        ),
        header_timeout: float | None = _limit(
            "header_timeout_s", "--header-timeout", "Seconds to receive the headers (408, closed)."
        ),
        body_timeout: float | None = _limit("body_timeout_s", "--body-timeout", "Seconds to receive the body (408)."),
        keep_alive: int | None = _limit("keep_alive_s", "--keep-alive", "Idle seconds between requests."),
        limit_concurrency: int | None = _limit(
            "limit_concurrency", "--limit-concurrency", "Connections + requests at once; more get 503."
        ),
        max_inflight: int | None = _limit("max_inflight", "--max-inflight", "Requests scored at once (threads)."),
        inline_max_bytes: int | None = _limit(
            "inline_max_bytes", "--inline-max-bytes", "Bodies this small are scored without a thread hop (0: never)."
        ),
    ) -> None:
        """Serve GET /ping, POST /invocations (text/csv, application/json) and GET /metrics."""
        from fraudstream.model.registry import ModelNotFoundError
        from fraudstream.serving.server import run_server
        from fraudstream.settings import get_settings

        try:
            limits = ServingLimits.from_env(
                max_rows=max_rows,
                max_body_bytes=max_body_bytes,
                max_field_chars=max_field_chars,
                max_header_bytes=max_header_bytes,
                header_timeout_s=header_timeout,
                body_timeout_s=body_timeout,
                keep_alive_s=keep_alive,
                limit_concurrency=limit_concurrency,
                max_inflight=max_inflight,
                inline_max_bytes=inline_max_bytes,
            )
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        settings = get_settings()
        try:
            run_server(
                model_dir,
                model or settings.model_version,
                host or settings.serve_host or settings.host,
                port or settings.serve_port,
                log_level=log_level,
                limits=limits,
            )
        except ModelNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
