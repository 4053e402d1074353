"""CLI: ``fraudstream demo`` — the whole system on the local stack, end to end, in one command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def demo(
    cards: int = typer.Option(10_000, "--cards", help="Cards in the generated data (reduced sizes for a quick look)."),
    transactions: int = typer.Option(5_400_000, "--transactions", help="Transactions in the generated data."),
    data: Path | None = typer.Option(None, "--data", help="Use this transactions file (skip generation if it exists)."),
    live: int = typer.Option(20_000, "--live", min=1, help="Transactions in the live slice re-timed to now."),
    rate: float = typer.Option(
        500.0, "--rate", min=0, help="Live slice send rate per second (0 = as fast as possible)."
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for predictions after the last send."),
    reports: Path = typer.Option(Path("reports"), "--reports", help="Where the JSON and PNG reports go."),
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model even if one of this data exists."),
    feature_set: list[str] = typer.Option(
        ["extended"], "--feature-set", help="Feature sets to train (repeat; the last one is served): anchor, extended."
    ),
    down: bool = typer.Option(False, "--down", help="Run the demo, then stop the services and the stack at the end."),
    stop: bool = typer.Option(
        False, "--stop", help="Run nothing: stop the supervisor, the services and the stack now, then exit."
    ),
) -> None:
    """Stack up → data → batch → train → serve → Flink → handlers → live traffic → seed attack → summary."""
    from rich.console import Console

    if stop:
        from fraudstream.demo.services import stop_all
        from fraudstream.settings import get_settings as _settings

        stopped = stop_all(_settings())
        typer.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing running: nothing to stop")
        return

    from fraudstream.demo.pipeline import DemoOptions, run_demo
    from fraudstream.demo.stages import DemoError
    from fraudstream.demo.summary import print_closing
    from fraudstream.settings import get_settings
    from fraudstream.stack.errors import StackError

    console = Console() if sys.stdout.isatty() else Console(width=160)
    options = DemoOptions(cards=cards, transactions=transactions, data=data, live=live, rate=rate,
                          timeout_s=timeout, reports=reports, down=down, retrain=retrain,
                          feature_sets=tuple(feature_set))  # fmt: skip
    try:
        result = run_demo(options, get_settings(), console)
    except (DemoError, StackError) as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
    print_closing(result, console)
    seed = (result.seed or {}).get("summary", {})
    if seed.get("missing", 1) or (result.live or {}).get("missing", 0):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the main app."""
    app.command("demo")(demo)
