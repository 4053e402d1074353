"""``fraudstream monitor``: the long-running monitor (live quality, freshness, drift, dashboard)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def monitor(
        port: int = typer.Option(None, help="HTTP port of the dashboard, /api/figures and /metrics (default 8090)"),
        db_path: Path = typer.Option(None, help="SQLite store (default <state_dir>/monitor/monitor.sqlite)"),
        retention_hours: float = typer.Option(None, help="Keep rows this long (default 48)"),
    ) -> None:
        """Consume predictions, labels and dead letters; serve the dashboard until Ctrl-C / SIGTERM."""
        from rich.console import Console

        from fraudstream.monitor.config import MonitorSettings
        from fraudstream.monitor.service import Monitor
        from fraudstream.settings import get_settings

        overrides = {
            k: v
            for k, v in {"port": port, "db_path": db_path, "retention_hours": retention_hours}.items()
            if v is not None
        }
        service = Monitor(get_settings(), MonitorSettings(**overrides))
        service.start()
        Console().print(f"[bold]monitor[/] dashboard at {service.url} (metrics at {service.url}metrics)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
