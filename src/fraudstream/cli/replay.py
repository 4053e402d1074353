"""CLI: ``fraudstream replay`` — send a simulated attack through the live pipeline and report each verdict."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

DEFAULT_REPORT_DIR = Path("reports")


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    from fraudstream.messages import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise typer.BadParameter(f"cannot read {value!r} as a time; use ISO-8601, e.g. 2026-01-01T12:00:00Z") from None


def replay(
    scenario: str | None = typer.Option(None, "--scenario", "-s", help="Built-in scenario name (see --list)."),
    file: Path | None = typer.Option(None, "--file", "-f", help="Scenario file (JSON or YAML)."),
    at: str | None = typer.Option(
        None, "--at", help="Event time of the scenario start (ISO-8601); default: now, sent in real time."
    ),
    pace: str | None = typer.Option(
        None, "--pace", help="realtime (wait between sends) or asap (send at once); default realtime, asap with --at."
    ),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait for the predictions after the last send."),
    clock_interval_ms: int = typer.Option(
        None,
        "--clock-interval-ms",
        min=1,
        help="Heartbeat interval of the in-process stream clock, used only when no clock is beating "
        "(default: FRAUDSTREAM_CLOCK_INTERVAL_MS, 20).",
    ),
    json_path: Path | None = typer.Option(
        None, "--json", help="Write the report here (PNG beside it); default reports/replay-NAME.json."
    ),
    list_scenarios: bool = typer.Option(False, "--list", help="List the built-in scenarios and exit."),
) -> None:
    """Replay a fraud scenario; exit 0 only when every transaction got a prediction."""
    from rich.console import Console

    from fraudstream.replay.report import render_table
    from fraudstream.replay.scenario_file import ScenarioError, load_scenario_file
    from fraudstream.replay.scenarios import BUILTIN_SCENARIOS, builtin_scenario

    console = Console() if sys.stdout.isatty() else Console(width=160)
    if list_scenarios:
        for name, factory in BUILTIN_SCENARIOS.items():
            sc = factory()
            console.print(
                f"[bold]{name}[/]: {sc.description} ({len(sc.transactions)} transactions, {sc.duration_s:.0f} s)"
            )
        raise typer.Exit(0)
    if (scenario is None) == (file is None):
        raise typer.BadParameter("give exactly one of --scenario NAME or --file PATH")
    if pace not in (None, "realtime", "asap"):
        raise typer.BadParameter(f"--pace must be realtime or asap, not {pace!r}")
    try:
        sc = builtin_scenario(scenario) if scenario else load_scenario_file(file)  # type: ignore[arg-type]
    except (KeyError, ScenarioError) as exc:
        console.print(f"[red]error:[/] {exc.args[0] if isinstance(exc, KeyError) else exc}")
        raise typer.Exit(2) from None
    start_at = _parse_at(at)

    from fraudstream.replay.service import replay_scenario
    from fraudstream.settings import get_settings

    settings = get_settings()
    console.print(
        f"replaying [bold]{sc.name}[/]: {len(sc.transactions)} transactions ({sc.attack_count} attack) "
        f"to {settings.topic_transactions} at {settings.kafka_bootstrap}"
    )
    try:
        with console.status("sending and waiting for predictions...") as status:

            def progress(sent: int, predicted: int, total: int) -> None:
                status.update(f"sent {sent}/{total}, predictions {predicted}/{total}")

            result = replay_scenario(sc, settings, at=start_at, pacing=pace, timeout_s=timeout,
                                     clock_interval_ms=clock_interval_ms, progress=progress)  # fmt: skip
    except Exception as exc:  # a stopped stack or a missing table: one clear line, no traceback
        console.print(f"[red]error:[/] replay failed: {exc}")
        raise typer.Exit(2) from None
    render_table(result.summary, result.rows, console)
    out = json_path or DEFAULT_REPORT_DIR / f"replay-{sc.name}.json"
    written_json, written_png = result.write(out)
    console.print(f"report: {written_json} and {written_png}")
    if not result.summary.ok:
        console.print(
            f"[red]{result.summary.missing} transaction(s) got no prediction within {timeout:.0f} s[/] "
            "(are the Flink job, `fraudstream handlers run fraud-scorer` and the endpoint running?)"
        )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``replay`` to the main app."""
    app.command("replay")(replay)
