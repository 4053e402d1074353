"""Checks run inside the `tools` container of the offline compose test (compose_test.sh).

    python check_pipeline.py live DATA.parquet N RATE   live traffic: the last N generated
        transactions re-timed to now, as `fraudstream demo` sends them; every one must get a
        prediction, and each prediction's 10-minute count must equal the exact count of the slice
    python check_pipeline.py seed REPORT.json           the seed-article replay's report must pass
        the demo's acceptance: every transaction predicted, 10-minute counts exact, no false
        positive, >= 7 of 10 attack transactions flagged, the first by the 4th

Exit 0 on success; otherwise one line per failed check and exit 1.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from fraudstream.replay.plan import ReplayPlan
from fraudstream.replay.scenarios import STREAM_WINDOW


def with_exact_counts(plan: ReplayPlan) -> ReplayPlan:
    """The plan with each transaction's exact count of its card's slice transactions in [t - 10 min, t]."""
    by_card: dict[str, list[datetime]] = {}
    for tx in plan.transactions:
        by_card.setdefault(tx.cc_num, []).append(tx.event_time)
    txs = []
    for tx in plan.transactions:
        exact = sum(1 for t in by_card[tx.cc_num] if tx.event_time - STREAM_WINDOW <= t <= tx.event_time)
        txs.append(replace(tx, expected_count=exact))
    return replace(plan, transactions=txs)


def check_live(data: Path, count: int, rate: float) -> list[str]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fraudstream.demo.live import fit_slice, plan_live_slice, read_tail
    from fraudstream.replay.report import build_rows, summarize
    from fraudstream.replay.runner import latest_event_time, run_plan
    from fraudstream.settings import get_settings

    settings = get_settings()
    frame, start = fit_slice(read_tail(data, count), datetime.now(UTC), latest_event_time(settings))
    if frame.empty:
        return ["no room for a live slice before now"]
    plan = with_exact_counts(plan_live_slice(frame, start, rate))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(width=120)) as progress:
        sent_task = progress.add_task("sent", total=len(plan.transactions))
        pred_task = progress.add_task("predicted", total=len(plan.transactions))

        def update(sent: int, predicted: int, total: int) -> None:
            progress.update(sent_task, completed=sent)
            progress.update(pred_task, completed=predicted)

        outcomes, stats = run_plan(plan, settings, 120.0, seed_history=False, progress=update)
    rows = build_rows(outcomes)
    s = summarize("live-traffic", rows, stats)
    print(json.dumps({"live": {"transactions": s.transactions, "predicted": s.predicted, "missing": s.missing,
                               "counts_match_expected": s.counts_match_expected,
                               "latency_ms_p50": s.latency_ms_p50, "latency_ms_p99": s.latency_ms_p99}}))  # fmt: skip
    failures = []
    if s.missing:
        failures.append(f"live: {s.missing} of {s.transactions} transactions got no prediction")
    if s.counts_match_expected is not True:
        wrong = [(r.card, r.num_trans_last_10m, r.expected_count) for r in rows
                 if r.expected_count is not None and r.num_trans_last_10m != r.expected_count]  # fmt: skip
        failures.append(f"live: 10-minute counts differ from exact for {len(wrong)} transactions, e.g. {wrong[:5]}")
    return failures


def check_seed(report: Path) -> list[str]:
    s = json.loads(report.read_text())["summary"]
    shown = ("transactions", "predicted", "missing", "attack_flagged", "first_flagged_attack", "false_positives",
             "counts_match_expected")  # fmt: skip
    print(json.dumps({"seed": {k: s[k] for k in shown}}))
    failures = []
    if s["missing"]:
        failures.append(f"seed: {s['missing']} transactions got no prediction")
    if s["counts_match_expected"] is not True:
        failures.append("seed: 10-minute counts are not exact")
    if s["false_positives"]:
        failures.append(f"seed: {s['false_positives']} false positives on the ordinary transactions")
    if s["attack_flagged"] < 7:
        failures.append(f"seed: only {s['attack_flagged']} of {s['attack_transactions']} attack transactions flagged")
    if s["first_flagged_attack"] is None or s["first_flagged_attack"] > 4:
        failures.append(f"seed: first flagged attack transaction is {s['first_flagged_attack']}, not by the 4th")
    return failures


def main(argv: list[str]) -> int:
    if argv[:1] == ["live"] and len(argv) == 4:
        failures = check_live(Path(argv[1]), int(argv[2]), float(argv[3]))
    elif argv[:1] == ["seed"] and len(argv) == 2:
        failures = check_seed(Path(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
