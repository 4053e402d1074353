"""Test-period evaluation: the figures of report.json, the PR-curve PNG and the printed table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fraudstream.model.metrics import (
    average_precision,
    card_precision_top_k,
    precision_recall_curve,
    recall_by_kind,
    roc_auc,
    scores_at,
)

if TYPE_CHECKING:
    import pandas as pd

MAX_CHAIN_POSITION = 10
CARD_PRECISION_K = 100


def recall_by_chain_position(
    positions: np.ndarray, y: np.ndarray, p: np.ndarray, threshold: float, max_position: int = MAX_CHAIN_POSITION
) -> list[dict[str, Any]]:
    """Recall of the 1st, 2nd, … transaction of the attack chains (positions from attack_id order)."""
    positions = np.asarray(positions)
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    rows = []
    for pos in range(1, max_position + 1):
        mask = (positions == pos) & (y == 1)
        n = int(mask.sum())
        if n == 0:
            continue
        flagged = int(np.sum(p[mask] >= threshold))
        rows.append({"position": pos, "frauds": n, "flagged": flagged, "recall": flagged / n})
    return rows


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    positions: np.ndarray,
    threshold: float,
    period: dict[str, Any] | None = None,
    frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Every figure the issue asks for, on one period (normally the test period). ``frame`` (the
    period's rows, aligned with ``y``) adds card precision@100 per day (needs ``cc_num`` and
    ``trans_time``) and recall by fraud kind (needs ``attack_kind``) when it has those columns."""
    y = np.asarray(y)
    n_pos = int(y.sum())
    report = {
        "period": period or {},
        "rows": int(y.size),
        "frauds": n_pos,
        "fraud_share": n_pos / y.size if y.size else 0.0,
        "pr_auc": average_precision(y, p),
        "roc_auc": roc_auc(y, p),
        "at_threshold": scores_at(y, p, threshold),
        "at_0_5": scores_at(y, p, 0.5),
        "recall_by_chain_position": {
            "at_threshold": recall_by_chain_position(positions, y, p, threshold),
            "at_0_5": recall_by_chain_position(positions, y, p, 0.5),
        },
    }
    if frame is not None:
        report.update(honest_figures(frame, y, p, threshold))
    return report


def honest_figures(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """Card precision@100 per UTC day and recall by ``attack_kind``, from the columns ``frame`` has."""
    out: dict[str, Any] = {}
    if {"cc_num", "trans_time"} <= set(frame.columns):
        days = frame["trans_time"].dt.strftime("%Y-%m-%d").to_numpy()
        per_day = card_precision_top_k(days, frame["cc_num"].astype(str).to_numpy(), y, p, CARD_PRECISION_K)
        values = [d["card_precision"] for d in per_day]
        ceiling = [min(d["fraud_cards"], CARD_PRECISION_K) / CARD_PRECISION_K for d in per_day]
        out["card_precision_at_100"] = {
            "k": CARD_PRECISION_K,
            "mean": float(np.mean(values)) if values else float("nan"),
            "best_possible_mean": float(np.mean(ceiling)) if ceiling else float("nan"),
            "per_day": per_day,
        }
    if "attack_kind" in frame.columns:
        kinds = frame["attack_kind"].astype(object).where(frame["attack_kind"].notna(), None).to_numpy()
        out["recall_by_fraud_kind"] = {
            "at_threshold": recall_by_kind(kinds, y, p, threshold),
            "at_0_5": recall_by_kind(kinds, y, p, 0.5),
        }
    return out


def plot_pr_curve(
    y: np.ndarray, p: np.ndarray, threshold: float, path: Path, title: str, report: dict[str, Any] | None = None
) -> Path:
    """Save the precision-recall curve with the stored threshold and 0.5 marked; with ``report``,
    panels for its card precision@100 per day and its recall by fraud kind when it has them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = report or {}
    extra = [k for k in ("card_precision_at_100", "recall_by_fraud_kind") if report.get(k)]
    fig, axes = plt.subplots(1, 1 + len(extra), figsize=(6 + 5 * len(extra), 4.5), dpi=110, squeeze=False)
    try:
        ax = axes[0][0]
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(recall, precision, where="post", color="tab:blue", label=f"PR-AUC {average_precision(y, p):.3f}")
        base = float(np.mean(y))
        ax.axhline(base, color="grey", linestyle=":", label=f"fraud share {base:.4f}")
        for t, marker, color in ((threshold, "o", "tab:red"), (0.5, "s", "tab:green")):
            s = scores_at(y, p, t)
            ax.plot(s["recall"], s["precision"], marker, color=color, label=f"threshold {t:.3f}")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
        for ax, key in zip(axes[0][1:], extra, strict=True):
            (_plot_card_precision if key == "card_precision_at_100" else _plot_recall_by_kind)(ax, report[key])
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def _plot_card_precision(ax: Any, block: dict[str, Any]) -> None:
    days = block["per_day"]
    ax.bar(range(len(days)), [d["card_precision"] for d in days], color="tab:blue")
    ax.axhline(block["mean"], color="tab:red", linestyle="--", label=f"mean {block['mean']:.3f}")
    ceiling = [min(d["fraud_cards"], block["k"]) / block["k"] for d in days]
    ax.step(range(len(days)), ceiling, where="mid", color="grey", label="best possible (compromised cards / k)")
    ax.set_xticks(range(len(days)), [d["day"][5:] for d in days], rotation=90, fontsize=6)
    ax.set(ylabel=f"compromised cards among the top {block['k']}", ylim=(0, 1.02))
    ax.set_title(f"card precision@{block['k']} per day", fontsize=10)
    ax.legend(fontsize=8)


def _plot_recall_by_kind(ax: Any, block: dict[str, Any]) -> None:
    rows = block["at_threshold"]
    at_half = {r["kind"]: r["recall"] for r in block["at_0_5"]}
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["recall"] for r in rows], 0.4, color="tab:red", label="at threshold")
    ax.bar(x + 0.2, [at_half.get(r["kind"], 0.0) for r in rows], 0.4, color="tab:green", label="at 0.5")
    names = [r["kind"].replace("_", "\n") for r in rows]  # merchant\ncompromise: no overlap
    ax.set_xticks(x, [f"{name}\n(n={r['frauds']})" for name, r in zip(names, rows, strict=True)], fontsize=7)
    ax.set(ylabel="recall", ylim=(0, 1.02))
    ax.set_title("recall by fraud kind", fontsize=10)
    ax.legend(fontsize=8)


def report_table(report: dict[str, Any], title: str = "test period") -> Any:
    """A rich table of the report's headline figures and the per-position recall."""
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    at_t, at_half = report["at_threshold"], report["at_0_5"]
    table.add_row("rows / frauds", f"{report['rows']:,} / {report['frauds']:,} ({report['fraud_share']:.4%})")
    table.add_row("PR-AUC", f"{report['pr_auc']:.4f}")
    table.add_row("ROC-AUC", f"{report['roc_auc']:.4f}")
    cp = report.get("card_precision_at_100")
    if cp:
        values = [d["card_precision"] for d in cp["per_day"]]
        lo, hi = (min(values), max(values)) if values else (float("nan"), float("nan"))
        best = cp.get("best_possible_mean", float("nan"))
        table.add_row(
            f"card precision@{cp['k']} (mean of {len(values)} days; best possible)",
            f"{cp['mean']:.3f} (days {lo:.2f}-{hi:.2f}; {best:.3f})",
        )
    thr = report.get("validation", {}).get("threshold", {})
    stab = thr.get("stability")
    if stab:
        t, pr, rc = stab["threshold"], stab["precision_at_threshold"], stab["recall_at_threshold"]
        table.add_row(
            f"threshold rule {thr.get('rule')} (bootstrap x{stab['resamples']}, p5-p95)",
            f"{t['p05']:.4f}-{t['p95']:.4f}",
        )
        table.add_row(
            "validation precision / recall @ threshold (p5-p95)",
            f"{pr['p05']:.3f}-{pr['p95']:.3f} / {rc['p05']:.3f}-{rc['p95']:.3f}",
        )
    if thr.get("warning"):
        table.add_row("[yellow]threshold warning[/]", f"[yellow]{thr['warning']}[/]")
    for label, s in ((f"@ threshold {at_t['threshold']:.4f}", at_t), ("@ 0.5", at_half)):
        cm = s["confusion"]
        table.add_row(f"precision / recall {label}", f"{s['precision']:.3f} / {s['recall']:.3f}")
        table.add_row(f"confusion {label}", f"tp {cm['tp']:,} fp {cm['fp']:,} fn {cm['fn']:,} tn {cm['tn']:,}")
    by_pos = report["recall_by_chain_position"]
    half = {r["position"]: r for r in by_pos["at_0_5"]}
    for row in by_pos["at_threshold"]:
        other = half.get(row["position"], {"recall": float("nan")})
        table.add_row(
            f"recall, chain position {row['position']} (n={row['frauds']})",
            f"{row['recall']:.3f} (@0.5: {other['recall']:.3f})",
        )
    by_kind = report.get("recall_by_fraud_kind")
    if by_kind:
        half_kind = {r["kind"]: r for r in by_kind["at_0_5"]}
        for row in by_kind["at_threshold"]:
            other = half_kind.get(row["kind"], {"recall": float("nan")})
            table.add_row(
                f"recall, {row['kind']} (n={row['frauds']})", f"{row['recall']:.3f} (@0.5: {other['recall']:.3f})"
            )
    return table
