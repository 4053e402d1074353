"""CLI commands: ``fraudstream flink submit|status|stop|sql`` for the cc-agg streaming job."""

from __future__ import annotations

import json

import typer

flink_app = typer.Typer(help="The Flink SQL job that enriches transactions with 10-minute card features.")


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@flink_app.command()
def submit(
    from_savepoint: str = typer.Option(None, "--from-savepoint", help="resume from this savepoint/checkpoint path"),
    parallelism: int = typer.Option(None, "--parallelism", min=1, help="job parallelism (default: settings)"),
) -> None:
    """Start the job (idempotent: prints the running job's id if one is active)."""
    from rich.console import Console

    from fraudstream.settings import get_settings
    from fraudstream.streaming.rest import FlinkRestError
    from fraudstream.streaming.submit import SubmitError, submit_job

    settings = get_settings()
    try:
        with Console(stderr=True).status(f"submitting the cc-agg job to {settings.flink_rest} ..."):
            job_id = submit_job(settings, parallelism=parallelism, from_savepoint=from_savepoint)
    except (SubmitError, FlinkRestError) as exc:
        _fail(exc)
    typer.echo(job_id)


@flink_app.command()
def status(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Job id, state, records in/out, late records and the last checkpoint."""
    from fraudstream.settings import get_settings
    from fraudstream.streaming.rest import FlinkRestError
    from fraudstream.streaming.submit import job_status

    try:
        info = job_status(get_settings())
    except FlinkRestError as exc:
        _fail(exc)
    if info is None:
        typer.echo("no cc-agg job on this cluster")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Flink job {info['name']}", show_header=False)
    for key, value in info.items():
        if key != "name":
            table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    Console().print(table)


@flink_app.command()
def stop(savepoint: bool = typer.Option(False, "--savepoint", help="stop with a savepoint (prints its path)")) -> None:
    """Stop the job, optionally taking a savepoint to resume from."""
    from fraudstream.settings import get_settings
    from fraudstream.streaming.rest import FlinkRestError
    from fraudstream.streaming.submit import stop_job

    try:
        result = stop_job(get_settings(), savepoint=savepoint)
    except FlinkRestError as exc:
        _fail(exc)
    if not result["stopped"]:
        typer.echo("no active cc-agg job")
        return
    typer.echo(f"stopped {result['job_id']}" + (f"; savepoint {result['savepoint']}" if result["savepoint"] else ""))


@flink_app.command("sql")
def show_sql() -> None:
    """Print the job's SQL (DDL, views, statement set) for the current settings."""
    from fraudstream.settings import get_settings
    from fraudstream.streaming.sql import job_script
    from fraudstream.streaming.submit import job_config

    typer.echo(job_script(job_config(get_settings())))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(flink_app, name="flink")
