"""CLI command: ``fraudstream clock`` — the stream clock (heartbeats that keep Flink's event time moving)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``clock`` command to the main app."""

    @app.command("clock")
    def clock(
        interval_ms: int = typer.Option(
            None,
            "--interval-ms",
            min=1,
            help="Milliseconds between heartbeats (default: FRAUDSTREAM_CLOCK_INTERVAL_MS, 20).",
        ),
        check: bool = typer.Option(False, "--check", help="Only say whether a clock is beating, and exit 0 if one is."),
    ) -> None:
        """Send a heartbeat to every partition of ``transactions`` every few ms, until stopped.

        A stack service (``stack up`` starts it); run it by hand only against an external Kafka.
        """
        import logging

        from fraudstream.settings import get_settings
        from fraudstream.streaming.clock import latest_heartbeat_age_s, run_clock

        settings = get_settings()
        if check:
            age = latest_heartbeat_age_s(settings)
            if age is None:
                typer.echo(f"no heartbeat on {settings.topic_transactions}")
                raise typer.Exit(1)
            typer.echo(f"newest heartbeat on {settings.topic_transactions}: {age * 1000:.0f} ms ago")
            raise typer.Exit(0 if age <= 2.0 else 1)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        stats = run_clock(settings, interval_ms)
        typer.echo(f"clock stopped after {stats.beats} beats ({stats.records} records, {stats.failed} failed)")
