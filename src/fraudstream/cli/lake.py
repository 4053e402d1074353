"""CLI command: ``lake archive`` (the archiving consumer: topics → Parquet by UTC day)."""

from __future__ import annotations

import typer

lake_app = typer.Typer(
    help="The lake: what flowed through Kafka, as Parquet partitioned by UTC day.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(lake_app, name="lake")


@lake_app.command("archive")
def archive_command(
    lake_dir: str | None = typer.Option(None, "--lake-dir", help="Lake root (default: $FRAUDSTREAM_LAKE_DIR)."),
    idle_exit_s: float | None = typer.Option(None, "--idle-exit-s", help="Stop after this long without records."),
) -> None:
    """Archive transactions, labels and predictions until interrupted (offsets committed after each write)."""
    import signal
    import threading

    from rich.console import Console

    from fraudstream.lake.archiver import LakeArchiver

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    archiver = LakeArchiver(lake_dir=lake_dir)
    console = Console(stderr=True)
    console.print(f"archiving {', '.join(archiver.topics)} to {archiver.lake_dir}")
    try:
        stats = archiver.run(stop, idle_exit_s=idle_exit_s)
    except KeyboardInterrupt:
        stats = archiver.stats
    console.print(
        f"archived {dict(stats.archived)} in {stats.files} file(s); "
        f"{stats.dead_lettered} dead-lettered, {stats.heartbeats} heartbeat(s) skipped"
    )
