"""CLI commands: ``generate`` (synthetic transactions with known fraud) and ``schemas`` (JSON Schema export)."""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import pyarrow as pa


class ProfileChoice(StrEnum):
    """Generator profiles (see ``fraudstream.generator.PROFILES``)."""

    seed = "seed"
    rich = "rich"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("generate")(generate_command)
    app.command("schemas")(schemas_command)


def generate_command(
    out: Path = typer.Option(Path("data/transactions.parquet"), "--out", "-o", help="Parquet, or CSV if *.csv."),
    cards: int = typer.Option(10_000, help="Distinct 16-digit Visa card numbers."),
    transactions: int = typer.Option(5_400_000, help="Total rows, fraud included."),
    start: datetime = typer.Option("2020-01-01", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="UTC, inclusive."),
    end: datetime = typer.Option("2020-06-01", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="UTC, exclusive."),
    fraud_ratio: float = typer.Option(
        0.0025,
        help="Share of ALL rows that are fraud, every attack kind included (seed: chains of 3-10; "
        "rich: split by --merchant-compromise-share and --card-compromise-share, the rest chains).",
    ),
    seed: int = typer.Option(123, help="Same seed, same bytes."),
    profile: ProfileChoice = typer.Option(
        ProfileChoice.seed,
        help="seed = anchor recipe; rich = card habits, merchants, compromise attacks, label delay.",
    ),
    merchants: int = typer.Option(10_000, help="rich: merchants (terminals) on the 100 x 100 grid."),
    merchant_radius: float = typer.Option(5.0, help="rich: a card shops at merchants this close to its home."),
    merchant_compromise_share: float = typer.Option(
        0.6, help="rich: share of fraud rows from merchant compromise (28 days, every row there fraud)."
    ),
    card_compromise_share: float = typer.Option(
        0.2, help="rich: share of fraud rows from card compromise (14 days, a third of rows at 5x)."
    ),
    fraud_label_delay: tuple[float, float] = typer.Option(
        (1.0, 14.0), help="rich: a fraud label is known MIN..MAX days after the transaction (uniform)."
    ),
    legit_label_delay: float = typer.Option(7.0, help="rich: a legitimate label is known this many days after."),
) -> None:
    """Generate card transactions with injected fraud chains (the anchor's recipe by default)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fraudstream.generator import STEPS, GeneratorConfig, generate_table, write_transactions

    console = Console(stderr=True)
    try:
        config = GeneratorConfig(
            cards=cards,
            transactions=transactions,
            start=start,
            end=end,
            fraud_ratio=fraud_ratio,
            seed=seed,
            profile=profile.value,  # type: ignore[arg-type]
            merchants=merchants,
            merchant_radius=merchant_radius,
            merchant_compromise_share=merchant_compromise_share,
            card_compromise_share=card_compromise_share,
            fraud_label_delay_days=fraud_label_delay,
            legit_label_delay_days=legit_label_delay,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    began = time.perf_counter()
    columns = (TextColumn("{task.description:<20}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("generating", total=len(STEPS) + 1)

        def step(name: str) -> None:
            progress.update(task, description=name, completed=STEPS.index(name))

        try:
            table = generate_table(config, step)
        except ValueError as exc:  # a compromise budget the rows cannot meet
            raise typer.BadParameter(str(exc)) from None
        progress.update(task, description=f"writing {out.suffix or 'file'}", completed=len(STEPS))
        write_transactions(table, out)
        progress.update(task, description="done", completed=len(STEPS) + 1)
    seconds = time.perf_counter() - began
    fraud = int(table.column("fraud_label").to_numpy().sum())
    console.print(
        f"wrote {table.num_rows:,} transactions ({fraud:,} fraud{_by_kind(table)}, {config.profile} profile) to {out} "
        f"in {seconds:.1f} s ({table.num_rows / seconds:,.0f} rows/s)",
        soft_wrap=True,
        markup=False,
    )


def _by_kind(table: pa.Table) -> str:
    """``: 8,100 merchant_compromise, ...`` when the fraud has more than one kind (rich profile), else nothing."""
    import pyarrow.compute as pc

    counts = pc.value_counts(pc.drop_null(table.column("attack_kind"))).to_pylist()
    if len(counts) < 2:
        return ""
    ranked = sorted(counts, key=lambda c: -c["counts"])
    return ": " + ", ".join(f"{c['counts']:,} {c['values']}" for c in ranked)


def schemas_command(
    out: Path = typer.Option(None, "--out", "-o", help="Folder (default: schemas/ in the repository)."),
    check: bool = typer.Option(False, "--check", help="Only report schemas that differ; exit 1 if any."),
) -> None:
    """Export the JSON Schemas of every topic record (one file per record)."""
    from fraudstream.schemas import default_schema_dir, export_schemas, stale_schemas

    folder = out or default_schema_dir()
    if check:
        stale = stale_schemas(folder)
        if stale:
            typer.echo(f"stale schemas in {folder}: {', '.join(stale)}", err=True)
            raise typer.Exit(1)
        typer.echo(f"schemas in {folder} are up to date")
        return
    for path in export_schemas(folder):
        typer.echo(f"wrote {path}")
