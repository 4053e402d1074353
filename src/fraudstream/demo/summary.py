"""The demo's closing report: stage timings, live-traffic figures and the seed attack, as JSON + PNG + text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def demo_document(result: Any) -> dict[str, Any]:
    """Everything the demo measured, JSON-ready."""
    return {
        "stages": [s.to_dict() for s in result.stages],
        "total_seconds": result.info.get("total_seconds"),
        "live_traffic": result.live,
        "seed_article": result.seed,
        "info": result.info,
        "look_around": look_around(result.info),
    }


def look_around(info: dict[str, Any]) -> list[str]:
    """Commands a user can type next."""
    from fraudstream.monitor.config import MonitorSettings

    return [
        f"open http://127.0.0.1:{MonitorSettings().port}/   (the live dashboard: quality, freshness, drift)",
        "fraudstream stack status",
        "fraudstream flink status",
        "fraudstream featurestore get <CC_NUM>   (e.g. a card from reports/replay-seed-article.json)",
        f"curl -s {info.get('endpoint_url', 'http://127.0.0.1:8080')}/ping",
        "fraudstream replay --scenario card-testing   (or burst, slow-drip --at ..., --file my.yaml)",
        "fraudstream models list",
        "fraudstream demo --stop   (stops the services and the stack; same as `fraudstream stack down`)",
    ]


def write_demo_report(result: Any, reports_dir: Path) -> tuple[Path, Path]:
    """``demo-summary.json`` and ``demo-summary.png`` in ``reports_dir``."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    json_path = reports_dir / "demo-summary.json"
    json_path.write_text(json.dumps(demo_document(result), indent=2, default=str) + "\n", encoding="utf-8")
    png_path = reports_dir / "demo-summary.png"
    _plot(result, png_path)
    return json_path, png_path


def _plot(result: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_stages, ax_seed) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1, 1.2]})
    names = [f"{s.number}. {s.name}" for s in result.stages]
    seconds = [s.seconds for s in result.stages]
    colours = ["#95a5a6" if s.status == "reused" else "#2e86c1" for s in result.stages]
    ax_stages.barh(names[::-1], seconds[::-1], color=colours[::-1])
    for y, (sec, stage) in enumerate(zip(seconds[::-1], result.stages[::-1], strict=True)):
        ax_stages.text(sec, y, f" {sec:.0f} s" + (" (reused)" if stage.status == "reused" else ""), va="center")
    total = result.info.get("total_seconds") or sum(seconds)
    ax_stages.set_xlim(0, max(seconds + [1.0]) * 1.3)
    ax_stages.set_title(f"demo stages: {total:.0f} s in total")
    ax_stages.set_xlabel("seconds")

    seed = result.seed or {}
    rows = seed.get("transactions", [])
    summary = seed.get("summary", {})
    xs = list(range(1, len(rows) + 1))
    probs = [r["fraud_probability"] if r["fraud_probability"] is not None else 0.0 for r in rows]
    ax_seed.bar(xs, probs, color=["#c0392b" if r["role"] == "attack" else "#2e86c1" for r in rows])
    if summary.get("threshold") is not None:
        ax_seed.axhline(summary["threshold"], linestyle="--", color="black", linewidth=1)
    for x, r in zip(xs, rows, strict=True):
        label = "?" if r["num_trans_last_10m"] is None else str(r["num_trans_last_10m"])
        ax_seed.text(x, 1.01, label, ha="center", fontsize=8)
    ax_seed.set_ylim(0, 1.1)
    ax_seed.set_xticks(xs)
    ax_seed.set_xlabel("transaction (blue = ordinary, red = attack; number above = 10-min count)")
    ax_seed.set_ylabel("fraud probability")
    live = result.live or {}
    ax_seed.set_title(
        f"seed attack: {summary.get('attack_flagged', '?')}/{summary.get('attack_transactions', '?')} flagged, "
        f"{summary.get('false_positives', '?')} false positives\n"
        f"live traffic: {live.get('predicted', 0):,} scored at {live.get('throughput_per_s') or 0:,.0f}/s, "
        f"p50 {live.get('latency_ms_p50') or 0:,.0f} ms / p99 {live.get('latency_ms_p99') or 0:,.0f} ms\n"
        f"{live.get('false_positives', 0)} false positives of {live.get('normal_transactions', 0):,} normal, "
        f"{live.get('attack_flagged', 0)} of {live.get('attack_transactions', 0)} fraud flagged",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_closing(result: Any, console: Any) -> None:
    """The closing note: timings, live figures, the attack verdict, where to look next."""
    from rich.table import Table

    table = Table(title="demo stages", header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("status")
    for s in result.stages:
        table.add_row(str(s.number), s.name, f"{s.seconds:.1f}", s.status)
    console.print(table)
    live = result.live or {}
    seed = (result.seed or {}).get("summary", {})
    total = result.info.get("total_seconds", 0)
    console.print(f"[bold]total: {total:.0f} s ({total / 60:.1f} min)[/]")
    if live:
        console.print(
            f"live traffic: [bold]{live['predicted']:,}[/] of {live['transactions']:,} transactions scored, "
            f"throughput {live.get('throughput_per_s') or 0:,.0f}/s, end-to-end latency p50 "
            f"{live.get('latency_ms_p50') or 0:,.0f} ms / p99 {live.get('latency_ms_p99') or 0:,.0f} ms; "
            f"false positives {live['false_positives']:,} of {live['normal_transactions']:,} normal, "
            f"fraud flagged {live['attack_flagged']} of {live['attack_transactions']}"
        )
    if seed:
        first = seed.get("first_flagged_attack")
        console.print(
            f"seed attack: flagged [bold]{seed['attack_flagged']} of {seed['attack_transactions']}[/] "
            f"(first flagged: {'#' + str(first) if first else 'none'}), false positives "
            f"{seed['false_positives']} of {seed['normal_transactions']} ordinary, "
            f"10-min counts {'exact' if seed.get('counts_match_expected') else 'NOT exact'}"
        )
    if result.report_json:
        console.print(f"reports: {result.report_json}, {result.report_png}")
    console.print("\n[bold]look around[/] (the stack stays up):")
    for line in look_around(result.info):
        console.print(f"  {line}")
