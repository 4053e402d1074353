"""CLI command: ``serve`` — the SageMaker-style model endpoint (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""

    @app.command("serve")
    def serve(
        model: str = typer.Option("latest", "--model", envvar="FRAUDSTREAM_MODEL_VERSION", help="Model version."),
        model_dir: Path | None = typer.Option(
            None, "--model-dir", help="Registry (or one version) directory [/opt/ml/model if present, else settings]."
        ),
        host: str | None = typer.Option(None, "--host", envvar="FRAUDSTREAM_SERVE_HOST", help="[settings host]"),
        port: int | None = typer.Option(None, "--port", help="[settings endpoint_port: 8080]"),
        log_level: str = typer.Option("warning", "--log-level"),
    ) -> None:
        """Serve GET /ping, POST /invocations (text/csv, application/json) and GET /metrics."""
        from fraudstream.model.registry import ModelNotFoundError
        from fraudstream.serving.server import env_port, run_server
        from fraudstream.settings import get_settings

        settings = get_settings()
        try:
            run_server(
                model_dir, model, host or settings.host, port or env_port(settings.endpoint_port), log_level=log_level
            )
        except ModelNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
