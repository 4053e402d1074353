"""CLI command: ``produce`` (stream a generated file or JSON lines on stdin into Kafka)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from fraudstream.producer import ProduceSummary

TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("produce")(produce_command)


def produce_command(
    source: str = typer.Argument(..., help="Generated Parquet/CSV file, or - for JSON lines on stdin."),
    rate: float = typer.Option(None, "--rate", help="Transactions per second."),
    speedup: float = typer.Option(
        None,
        "--speedup",
        help="Replay event time X times faster than real; labels wait for their labelled_at (label delay).",
    ),
    max_speed: bool = typer.Option(False, "--max", help="As fast as possible (the default without --rate/--speedup)."),
    from_time: datetime = typer.Option(None, "--from", formats=TIME_FORMATS, help="Only rows at/after (UTC)."),
    to_time: datetime = typer.Option(None, "--to", formats=TIME_FORMATS, help="Only rows before (UTC)."),
    limit: int = typer.Option(None, "--limit", min=0, help="At most this many transactions."),
    retime: bool = typer.Option(False, "--retime", help="Shift event times so that the slice starts now."),
    labels: bool = typer.Option(True, "--labels/--no-labels", help="Also send each row's label to `labels`."),
    summary_json: Path = typer.Option(None, "--summary-json", help="Also write the summary here as JSON."),
) -> None:
    """Stream transactions to Kafka (keyed by cc_num), labels to `labels`, bad records to `dead-letter`."""
    from rich.console import Console

    from fraudstream.generator.config import as_utc
    from fraudstream.producer import produce
    from fraudstream.record_source import Selection, count_file_rows
    from fraudstream.settings import get_settings

    console = Console(stderr=True)
    if sum(x is not None and x is not False for x in (rate, speedup, max_speed or None)) > 1:
        raise typer.BadParameter("choose one of --rate, --speedup and --max")
    if source != "-" and not Path(source).exists():
        raise typer.BadParameter(f"no such file: {source}", param_hint="SOURCE")
    selection = Selection(
        from_time=as_utc(from_time) if from_time else None,
        to_time=as_utc(to_time) if to_time else None,
        limit=limit,
        retime=retime,
    )
    settings = get_settings()
    total = limit if source == "-" else _expected_rows(count_file_rows(source), limit, from_time or to_time)
    try:
        summary = _run_with_progress(console, total, lambda cb: produce(
            source, settings, rate=rate, speedup=speedup, selection=selection, labels=labels, on_progress=cb
        ))  # fmt: skip
    except (ConnectionError, ValueError) as exc:
        console.print(f"error: {exc}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None

    console.print(
        f"sent {summary.transactions_sent:,} transactions and {summary.labels_sent:,} labels "
        f"to {settings.topic_transactions}/{settings.topic_labels} in {summary.seconds:.1f} s "
        f"({summary.records_per_s:,.0f} records/s); failed {summary.failed:,}; "
        f"dead-lettered {summary.rejected:,}"
        + (f"; {summary.labels_held:,} labels not yet due, not sent" if summary.labels_held else "")
        + ("; interrupted" if summary.interrupted else ""),
        soft_wrap=True,
        markup=False,
    )
    if summary.first_error:
        console.print(f"first delivery error: {summary.first_error}", style="red", markup=False, soft_wrap=True)
    if summary_json:
        summary_json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    if not summary.ok:
        raise typer.Exit(1)
    if summary.interrupted:
        raise typer.Exit(130)


def _expected_rows(file_rows: int | None, limit: int | None, sliced: object) -> int | None:
    if file_rows is None or sliced:
        return limit
    return min(file_rows, limit) if limit is not None else file_rows


def _run_with_progress(
    console: Console, total: int | None, run: Callable[[Callable[[ProduceSummary], None]], ProduceSummary]
) -> ProduceSummary:
    """Run ``run(on_progress)`` under a rich progress bar counting queued transactions."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("produce", total=total)
        return run(lambda summary: progress.update(task, completed=summary.transactions_sent))
