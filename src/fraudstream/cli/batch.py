"""CLI commands: ``batch nightly|training-set|backfill`` (the PySpark job; pyspark loads lazily)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

batch_app = typer.Typer(
    help="Nightly PySpark job: 1-week features to the online store, point-in-time training set, backfill.",
    no_args_is_help=True,
)

DAY_FORMATS = ["%Y-%m-%d"]
INPUT_HELP = (
    "Transactions file or directory (Parquet or CSV; local, s3://, s3a://) for backfills and your own data;"
    " default: the lake ($FRAUDSTREAM_LAKE_DIR, what the stream archived)."
)
LABEL_DELAY_HELP = (
    "Merchant risk: windows end this many days before each night and only labels known before the night count"
    " (default: $FRAUDSTREAM_LABEL_DELAY_DAYS or 7; the nightly load and the training set must use the same)."
)
MASTER_HELP = "Spark master URL (default: $FRAUDSTREAM_SPARK_MASTER or local[*]); e.g. spark://host:7077, yarn."


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(batch_app, name="batch")


def _finish(summary: dict[str, Any], title: str) -> None:
    """Print the run summary; a run with failed writes exits non-zero."""
    from fraudstream.batch.summary import print_summary

    print_summary(summary, title)
    if summary.get("failed"):
        typer.secho(f"{summary['failed']} record(s) failed to load; see 'errors' in the summary", err=True, fg="red")
        raise typer.Exit(1)


def _label_delay(days: int | None) -> Any:
    """The label-delay rule of ``--label-delay-days`` (default: the setting), or a usage error."""
    from fraudstream.features import LabelDelayRule
    from fraudstream.settings import get_settings

    try:
        return LabelDelayRule(get_settings().label_delay_days if days is None else days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--label-delay-days") from None


def _run(job, *args: Any, master: str | None, spinner: str | None = None) -> dict[str, Any]:
    """Run ``job(spark, *args)`` with a session; bad input becomes a clear usage error."""
    from rich.console import Console

    from fraudstream.batch.io import InputError
    from fraudstream.batch.spark_session import get_spark

    console = Console(stderr=True)
    with console.status("starting Spark..."):
        spark = get_spark(master)
    try:
        if not spinner:  # the job shows its own progress (the DynamoDB load)
            return job(spark, *args)
        with console.status(f"{spinner} (Spark {spark.sparkContext.master})..."):
            return job(spark, *args)
    except (InputError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        spark.stop()


@batch_app.command("nightly")
def nightly_command(
    input_path: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    as_of: datetime = typer.Option(..., "--as-of", formats=DAY_FORMATS, help="UTC day; the week is [as_of-7d, as_of)."),
    master: str | None = typer.Option(None, "--master", help=MASTER_HELP),
    label_delay_days: int | None = typer.Option(None, "--label-delay-days", help=LABEL_DELAY_HELP),
) -> None:
    """Compute the nightly features for AS_OF: 1-week (cc-agg-batch-fg), card windows (cc-windows-fg), merchants."""
    from fraudstream.batch.nightly import run_nightly
    from fraudstream.settings import get_settings

    rule = _label_delay(label_delay_days)
    summary = _run(run_nightly, input_path, as_of.date(), get_settings(), None, rule, master=master)
    _finish(summary, f"batch nightly {as_of:%Y-%m-%d}")


@batch_app.command("training-set")
def training_set_command(
    input_path: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    out: str = typer.Option(..., "--out", "-o", help="Output directory (Parquet partitioned by dt=YYYY-MM-DD)."),
    from_date: datetime | None = typer.Option(None, "--from", formats=DAY_FORMATS, help="First UTC day (inclusive)."),
    to_date: datetime | None = typer.Option(None, "--to", formats=DAY_FORMATS, help="Last UTC day (inclusive)."),
    master: str | None = typer.Option(None, "--master", help=MASTER_HELP),
    label_delay_days: int | None = typer.Option(None, "--label-delay-days", help=LABEL_DELAY_HELP),
) -> None:
    """Write the point-in-time training set: 10-minute + as-served nightly card/merchant features + model inputs."""
    from fraudstream.batch.training_set import build_training_set
    from fraudstream.settings import get_settings

    rule = _label_delay(label_delay_days)

    summary = _run(
        build_training_set,
        input_path,
        out,
        from_date.date() if from_date else None,
        to_date.date() if to_date else None,
        get_settings(),
        rule,
        master=master,
        spinner="computing the training set",
    )
    _finish(summary, "batch training-set")


@batch_app.command("backfill")
def backfill_command(
    input_path: str | None = typer.Option(None, "--input", "-i", help=INPUT_HELP),
    from_date: datetime = typer.Option(..., "--from", formats=DAY_FORMATS, help="First nightly run (UTC day)."),
    to_date: datetime = typer.Option(..., "--to", formats=DAY_FORMATS, help="Last nightly run (UTC day)."),
    master: str | None = typer.Option(None, "--master", help=MASTER_HELP),
    label_delay_days: int | None = typer.Option(None, "--label-delay-days", help=LABEL_DELAY_HELP),
) -> None:
    """Run the nightly computation for every day in [FROM, TO] (every group); the store ends as after the last run."""
    from fraudstream.batch.nightly import run_backfill
    from fraudstream.settings import get_settings

    rule = _label_delay(label_delay_days)
    args = (input_path, from_date.date(), to_date.date(), get_settings(), None, rule)
    summary = _run(run_backfill, *args, master=master)
    _finish(summary, f"batch backfill {from_date:%Y-%m-%d}..{to_date:%Y-%m-%d}")
