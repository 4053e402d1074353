"""The replay report: a per-transaction table and a summary, as a rich table, JSON and a PNG.

A missing prediction is an error, not a miss: it is counted separately and makes the run fail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fraudstream.replay.runner import Outcome, RunStats

TABLE_ROWS = 40
TABLE_TAIL = 10
"""Longer replays print their first 30 and last 10 transactions (all of them are in the JSON)."""
PNG_LABELLED_ROWS = 60
"""Up to this many transactions the PNG draws bars and labels each one; beyond, one line per transaction."""


@dataclass
class ReportRow:
    """One transaction as the scorer saw it."""

    index: int
    role: str
    card: str
    cc_num: str
    tid: str
    offset_s: float
    trans_time: str
    amount: float
    expected_count: int | None
    num_trans_last_10m: int | None
    avg_amt_last_10m: float | None
    num_trans_last_1w: int | None
    avg_amt_last_1w: float | None
    amt_ratio1: float | None
    amt_ratio2: float | None
    count_ratio: float | None
    fraud_probability: float | None
    threshold: float | None
    is_fraud: bool | None
    latency_ms: float | None
    model_version: str | None = None
    note: str = ""

    @property
    def missing(self) -> bool:
        return self.fraud_probability is None


@dataclass
class ReplaySummary:
    """The headline numbers of a replay."""

    scenario: str
    transactions: int
    predicted: int
    missing: int
    attack_transactions: int
    attack_flagged: int
    first_flagged_attack: int | None  # 1-based position within the attack transactions
    normal_transactions: int
    false_positives: int
    counts_match_expected: bool | None
    latency_ms_p50: float | None
    latency_ms_p99: float | None
    latency_ms_max: float | None
    throughput_per_s: float | None
    model_version: str | None
    threshold: float | None
    heartbeats_sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every transaction got a prediction (the replay's exit criterion)."""
        return self.missing == 0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _opt_float(record: dict[str, Any] | None, name: str) -> float | None:
    if record is None or record.get(name) is None:
        return None
    return float(record[name])


def build_rows(outcomes: Sequence[Outcome]) -> list[ReportRow]:
    """Report rows in send order, predictions joined by tid."""
    if not outcomes:
        return []
    first_event = min(o.planned.event_time for o in outcomes)
    rows = []
    for o in sorted(outcomes, key=lambda o: o.planned.index):
        p, pred = o.planned, o.prediction
        count = pred.get("num_trans_last_10m") if pred else None
        n1w = pred.get("num_trans_last_1w") if pred else None
        flag = pred.get("is_fraud") if pred else None
        rows.append(
            ReportRow(
                index=p.index,
                role=p.role,
                card=p.card,
                cc_num=p.cc_num,
                tid=p.tid,
                offset_s=round((p.event_time - first_event).total_seconds(), 3),
                trans_time=p.event_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                amount=p.amount,
                expected_count=p.expected_count,
                num_trans_last_10m=None if count is None else int(count),
                avg_amt_last_10m=_opt_float(pred, "avg_amt_last_10m"),
                num_trans_last_1w=None if n1w is None else int(n1w),
                avg_amt_last_1w=_opt_float(pred, "avg_amt_last_1w"),
                amt_ratio1=_opt_float(pred, "amt_ratio1"),
                amt_ratio2=_opt_float(pred, "amt_ratio2"),
                count_ratio=_opt_float(pred, "count_ratio"),
                fraud_probability=_opt_float(pred, "fraud_probability"),
                threshold=_opt_float(pred, "threshold"),
                is_fraud=None if flag is None else bool(flag),
                latency_ms=None if o.latency_ms is None else round(o.latency_ms, 1),
                model_version=None if pred is None or pred.get("model_version") is None else str(pred["model_version"]),
                note=p.note,
            )
        )
    return rows


def summarize(name: str, rows: Sequence[ReportRow], stats: RunStats | None = None) -> ReplaySummary:
    """Flagged k of n attack transactions, first flagged, false positives, latency, throughput."""
    attack = [r for r in rows if r.role == "attack"]
    normal = [r for r in rows if r.role == "normal"]
    first_flagged = next((i for i, r in enumerate(attack, 1) if r.is_fraud), None)
    latencies = [r.latency_ms for r in rows if r.latency_ms is not None]
    with_expectation = [r for r in rows if r.expected_count is not None and not r.missing]
    counts_match = all(r.num_trans_last_10m == r.expected_count for r in with_expectation) if with_expectation else None
    predicted = [r for r in rows if not r.missing]
    throughput = None
    if stats and stats.first_sent_at and stats.last_received_at and stats.last_received_at > stats.first_sent_at:
        throughput = round(len(predicted) / (stats.last_received_at - stats.first_sent_at), 1)
    model_versions = sorted({r.model_version for r in rows if r.model_version})
    return ReplaySummary(
        scenario=name,
        transactions=len(rows),
        predicted=len(predicted),
        missing=len(rows) - len(predicted),
        attack_transactions=len(attack),
        attack_flagged=sum(1 for r in attack if r.is_fraud),
        first_flagged_attack=first_flagged,
        normal_transactions=len(normal),
        false_positives=sum(1 for r in normal if r.is_fraud),
        counts_match_expected=counts_match,
        latency_ms_p50=_round(percentile(latencies, 50)),
        latency_ms_p99=_round(percentile(latencies, 99)),
        latency_ms_max=_round(max(latencies) if latencies else None),
        throughput_per_s=throughput,
        model_version=", ".join(model_versions) or None,
        threshold=next((r.threshold for r in rows if r.threshold is not None), None),
        heartbeats_sent=stats.heartbeats_sent if stats else 0,
    )


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def report_dict(summary: ReplaySummary, rows: Sequence[ReportRow]) -> dict[str, Any]:
    """The JSON document of a replay, with a link to the live dashboard that shows the same traffic."""
    from fraudstream.monitor.config import MonitorSettings

    dashboard = f"http://127.0.0.1:{MonitorSettings().port}/"
    return {"summary": asdict(summary), "dashboard": dashboard, "transactions": [asdict(r) for r in rows]}


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_png(path: str | Path, summary: ReplaySummary, rows: Sequence[ReportRow]) -> Path:
    """Probability per transaction (attack in red, normal in blue, threshold dashed) and the 10-min counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_p, ax_c) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    xs = list(range(1, len(rows) + 1))
    colours = ["#c0392b" if r.role == "attack" else "#2e86c1" for r in rows]
    probs = [r.fraud_probability if r.fraud_probability is not None else float("nan") for r in rows]
    labelled = len(rows) <= PNG_LABELLED_ROWS
    _bars(ax_p, xs, probs, colours, labelled)
    for x, r in zip(xs, rows, strict=True) if labelled else ():
        if r.missing:
            ax_p.text(x, 0.02, "missing", rotation=90, ha="center", va="bottom", fontsize=8)
        elif r.is_fraud:
            ax_p.text(x, (r.fraud_probability or 0) + 0.01, "F", ha="center", va="bottom", fontsize=8)
    if summary.threshold is not None:
        ax_p.axhline(
            summary.threshold, linestyle="--", color="black", linewidth=1, label=f"threshold {summary.threshold:.3g}"
        )
        ax_p.legend(loc="upper left")
    ax_p.set_ylim(0, 1.05)
    ax_p.set_ylabel("fraud probability")
    ax_p.set_title(
        f"replay {summary.scenario}: {summary.attack_flagged}/{summary.attack_transactions} attack flagged, "
        f"{summary.false_positives}/{summary.normal_transactions} false positives, {summary.missing} missing"
    )
    seen = [r.num_trans_last_10m if r.num_trans_last_10m is not None else float("nan") for r in rows]
    expected = [r.expected_count if r.expected_count is not None else float("nan") for r in rows]
    _bars(ax_c, xs, seen, colours, labelled, alpha=0.8, label="count seen by the scorer")
    ax_c.plot(xs, expected, "k_", markersize=14, label="exact 10-min count")
    ax_c.set_ylabel("num_trans_last_10m")
    ax_c.set_xlabel("transaction (send order); red = attack, blue = normal")
    ax_c.legend(loc="upper left")
    if labelled:
        ax_c.set_xticks(xs)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _bars(ax: Any, xs: list[int], heights: list[float], colours: list[str], labelled: bool, **style: Any) -> None:
    """Bars for a short replay; one line per transaction in a single collection for a long one (1,500
    bar patches took about a minute to add and draw)."""
    if labelled:
        ax.bar(xs, heights, color=colours, **style)
    else:
        ax.vlines(xs, 0, heights, colors=colours, linewidth=1, **style)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_table(
    summary: ReplaySummary, rows: Sequence[ReportRow], console: Any = None, title: str | None = None
) -> None:
    """Print the per-transaction table and the summary line with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=title or f"replay: {summary.scenario}", header_style="bold")
    for name, justify in [
        ("#", "right"), ("t (s)", "right"), ("card", "left"), ("role", "left"), ("amount", "right"),
        ("count 10m", "right"), ("amt_ratio1", "right"), ("amt_ratio2", "right"), ("count_ratio", "right"),
        ("probability", "right"), ("decision", "left"), ("latency ms", "right"),
    ]:  # fmt: skip
        table.add_column(name, justify=justify)
    shown: list[ReportRow | None] = list(rows)
    if len(rows) > TABLE_ROWS:  # a 1,500-transaction replay: its head and tail, the rest in the JSON
        shown = [*rows[: TABLE_ROWS - TABLE_TAIL], None, *rows[-TABLE_TAIL:]]
    for r in shown:
        if r is None:
            table.add_row("…", "", f"{len(rows) - TABLE_ROWS} more in the JSON report", *[""] * 9)
            continue
        if r.missing:
            decision = "[bold red]MISSING[/]"
        else:
            decision = "[bold red]FRAUD[/]" if r.is_fraud else "[green]NOT FRAUD[/]"
        count = "-" if r.num_trans_last_10m is None else str(r.num_trans_last_10m)
        if (
            r.expected_count is not None
            and r.num_trans_last_10m is not None
            and r.num_trans_last_10m != r.expected_count
        ):
            count += f" [yellow](exact {r.expected_count})[/]"
        table.add_row(
            str(r.index + 1), f"{r.offset_s:.1f}", r.card, r.role, f"{r.amount:,.2f}", count,
            _fmt(r.amt_ratio1, ".3f"), _fmt(r.amt_ratio2, ".3f"), _fmt(r.count_ratio, ".3f"),
            _fmt(r.fraud_probability, ".3f"), decision, _fmt(r.latency_ms, ",.0f"),
        )  # fmt: skip
    console.print(table)
    console.print(summary_line(summary))


def summary_line(s: ReplaySummary) -> str:
    """One line a person reads first."""
    first = "none" if s.first_flagged_attack is None else f"#{s.first_flagged_attack}"
    parts = [
        f"flagged [bold]{s.attack_flagged} of {s.attack_transactions}[/] attack transactions (first flagged: {first})",
        f"false positives: [bold]{s.false_positives} of {s.normal_transactions}[/] normal",
        f"missing predictions: [bold]{s.missing}[/]",
    ]
    if s.counts_match_expected is not None:
        parts.append("10-min counts exact" if s.counts_match_expected else "[yellow]10-min counts differ from exact[/]")
    if s.latency_ms_p50 is not None:
        parts.append(f"end-to-end latency p50 {s.latency_ms_p50:,.0f} ms / p99 {s.latency_ms_p99:,.0f} ms")
    if s.model_version:
        parts.append(f"model {s.model_version} (threshold {_fmt(s.threshold, '.3f')})")
    return "; ".join(parts)
