"""One call that replays a scenario end to end and returns its report (used by the CLI, the demo, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudstream.replay.plan import Pacing, ReplayPlan, plan_scenario
from fraudstream.replay.report import (
    ReplaySummary,
    ReportRow,
    build_rows,
    report_dict,
    summarize,
    write_json,
    write_png,
)
from fraudstream.replay.runner import ProgressCallback, run_plan
from fraudstream.replay.scenario_file import Scenario
from fraudstream.settings import Settings


@dataclass
class ReplayResult:
    """A finished replay: the plan that was sent, the rows, the summary."""

    plan: ReplayPlan
    rows: list[ReportRow]
    summary: ReplaySummary

    def to_dict(self) -> dict[str, Any]:
        return report_dict(self.summary, self.rows)

    def write(self, json_path: str | Path) -> tuple[Path, Path]:
        """JSON at ``json_path`` and the PNG beside it (same name, ``.png``)."""
        json_path = Path(json_path)
        return write_json(json_path, self.to_dict()), write_png(json_path.with_suffix(".png"), self.summary, self.rows)


def replay_scenario(
    scenario: Scenario,
    settings: Settings,
    at: datetime | None = None,
    pacing: Pacing | None = None,
    timeout_s: float = 60.0,
    clock_interval_ms: int | None = None,
    progress: ProgressCallback | None = None,
) -> ReplayResult:
    """Plan ``scenario`` (event times from ``at``, else now), run it, report.

    Scenario cards are fresh, and lateness is judged per card, so a replay needs no floor under its
    event times: ``--at`` may be any time, past or future.

    ``pacing`` defaults to ``realtime`` when starting now, ``asap`` with an explicit ``at``.
    """
    if at is None:
        base = datetime.now(UTC)
        pacing = pacing or "realtime"
    else:
        base = at.astimezone(UTC)
        pacing = pacing or "asap"
    plan = plan_scenario(scenario, base, pacing)
    outcomes, stats = run_plan(plan, settings, timeout_s, progress=progress, clock_interval_ms=clock_interval_ms)
    rows = build_rows(outcomes)
    summary = summarize(scenario.name, rows, stats)
    summary.extra.update(
        {
            "run_id": plan.run_id,
            "pacing": pacing,
            "base_time": base.isoformat(),
            "cards": plan.card_numbers,
            "timed_out": stats.timed_out,
        }
    )
    return ReplayResult(plan, rows, summary)
