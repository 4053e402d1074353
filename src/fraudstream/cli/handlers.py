"""CLI commands: ``fraudstream handlers run agg-writer|fraud-scorer`` (the local Lambda runner)."""

from __future__ import annotations

import logging

import typer

handlers_app = typer.Typer(help="Run the Lambda-style handlers locally against Kafka.", no_args_is_help=True)


@handlers_app.command("run")
def run(
    name: str = typer.Argument(..., help="agg-writer or fraud-scorer"),
    batch_size: int = typer.Option(
        None, "--batch-size", min=1, max=10_000, help="Records per invocation (default: from the profile)."
    ),
    max_wait_ms: int = typer.Option(
        None, "--max-wait-ms", min=0, help="Batching window after the first record (default: from the profile)."
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="Batching profile: low-latency (no window) or lambda (100 records, 500 ms window); "
        "default FRAUDSTREAM_HANDLER_PROFILE, else low-latency.",
    ),
    group_id: str | None = typer.Option(None, "--group-id", help="consumer group (default per handler)"),
) -> None:
    """Consume cc-agg as a consumer group, invoke the handler with MSK events, commit after success."""
    from fraudstream.handlers.runner import HANDLER_MODULES, run_handler
    from fraudstream.settings import get_settings

    if name not in HANDLER_MODULES:
        typer.echo(f"unknown handler {name!r}; expected one of: {', '.join(sorted(HANDLER_MODULES))}", err=True)
        raise typer.Exit(2)
    from fraudstream.handlers.profiles import PROFILES

    settings = get_settings()
    if profile is not None:
        if profile not in PROFILES:
            typer.echo(f"unknown profile {profile!r}; expected one of: {', '.join(sorted(PROFILES))}", err=True)
            raise typer.Exit(2)
        settings = settings.model_copy(update={"handler_profile": profile})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stats = run_handler(name, settings, batch_size, max_wait_ms, group_id=group_id)
    typer.echo(f"{name} stopped: {stats}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(handlers_app, name="handlers")
