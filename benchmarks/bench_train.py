"""Benchmark: train the anchor and extended models on the full batch training set.

Prints and writes ``benchmarks/results/train.json`` (and ``train.png``): load and training seconds per
feature set and the test-period figures (PR-AUC, ROC-AUC, precision/recall at the stored threshold and
at 0.5, recall per attack-chain position). Quality floor (issue 7): anchor test-period PR-AUC >= 0.64 on
the default data.

    .venv/bin/fraudstream batch training-set -i data/transactions.parquet -o data/model_training_set
    .venv/bin/python benchmarks/bench_train.py --training-set data/model_training_set --model-dir models
        [--out FILE.json]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _common import Machine, figure, parser, write_report
from rich.console import Console

from fraudstream.model import registry
from fraudstream.model.dataset import data_hash, load_training_set
from fraudstream.model.pipeline import split_for, train_one
from fraudstream.model.training import TrainingConfig

ANCHOR_PR_AUC_FLOOR = 0.64


def _positions(report: dict, key: str) -> dict[int, float]:
    return {r["position"]: round(r["recall"], 4) for r in report["recall_by_chain_position"][key]}


def summarize(meta: registry.ModelMetadata, report: dict, seconds_total: float | None) -> dict:
    """The figures of one trained model, from its registry report."""
    return {
        "version": meta.version,
        "seconds_total": None if seconds_total is None else round(seconds_total, 2),
        "seconds_xgboost_train": round(report["training"]["seconds"], 2),
        "nthread": report["training"]["config"]["nthread"],
        "best_iteration": report["training"]["best_iteration"],
        "scale_pos_weight": round(report["training"]["scale_pos_weight"], 3),
        "train_rows": report["train"]["rows"],
        "threshold": meta.threshold,
        "threshold_rule": meta.threshold_rule,
        "test_rows": report["rows"],
        "test_frauds": report["frauds"],
        "test_pr_auc": round(report["pr_auc"], 4),
        "test_roc_auc": round(report["roc_auc"], 4),
        "validation_pr_auc": round(report["validation"]["pr_auc"], 4),
        "at_threshold": {k: report["at_threshold"][k] for k in ("precision", "recall", "f1", "confusion")},
        "at_0_5": {k: report["at_0_5"][k] for k in ("precision", "recall", "f1", "confusion")},
        "recall_by_chain_position_at_threshold": _positions(report, "at_threshold"),
        "recall_by_chain_position_at_0_5": _positions(report, "at_0_5"),
    }


def from_registry(model_dir: Path, feature_sets: list[str]) -> dict[str, dict]:
    """Figures of the newest registered version of each feature set (no training)."""
    out = {}
    for meta in registry.list_versions(model_dir):
        if meta.feature_set in feature_sets:
            out[meta.feature_set] = summarize(meta, registry.load_report(model_dir, meta.version), None)
    return out


def plot(result: dict, path: Path) -> None:
    """Test-period PR-AUC and ROC-AUC per model against the floor, and recall per attack-chain position."""
    models = result["models"]
    with figure(path, 1, 2, figsize=(11, 4)) as (_, (left, right)):
        names = list(models)
        xs = range(len(names))
        for offset, key in ((-0.2, "test_pr_auc"), (0.2, "test_roc_auc")):
            bars = left.bar([x + offset for x in xs], [models[n][key] for n in names], 0.4, label=key)
            left.bar_label(bars, fmt="%.3f", fontsize=8)
        left.axhline(result["anchor_pr_auc_floor"], color="grey", linestyle=":", label="anchor PR-AUC floor")
        left.set_xticks(list(xs), names)
        left.set(ylim=(0, 1.05), title=f"test period, {result['rows']:,} rows")
        left.legend(fontsize=8)
        for name in names:
            recall = models[name]["recall_by_chain_position_at_threshold"]
            right.plot([int(p) for p in recall], list(recall.values()), marker="o", label=name)
        right.set(xlabel="position in the attack chain", ylabel="recall at the stored threshold", ylim=(0, 1.05))
        right.set_title("recall by attack-chain position")
        right.legend(fontsize=8)


def main() -> None:
    cli = parser(__doc__, "train.json")
    cli.add_argument("--training-set", type=Path, default=Path("data/model_training_set"))
    cli.add_argument("--model-dir", type=Path, default=Path("models"))
    cli.add_argument("--feature-set", action="append", default=None, help="anchor, extended (default: both)")
    cli.add_argument("--imbalance", default="sqrt", choices=["none", "sqrt", "balanced"])
    cli.add_argument("--nthread", type=int, default=0, help="XGBoost threads (0 = all cores)")
    cli.add_argument("--from-registry", action="store_true", help="Summarise registered models, no training")
    args = cli.parse_args()
    feature_sets = args.feature_set or ["anchor", "extended"]
    console = Console()
    machine = Machine()

    began = time.perf_counter()
    frame = load_training_set(args.training_set)
    digest = data_hash(args.training_set)
    load_seconds = time.perf_counter() - began
    split = split_for(frame)
    console.print(f"loaded {len(frame):,} rows in {load_seconds:.1f} s; split {split.to_dict()}")

    models = from_registry(args.model_dir, feature_sets) if args.from_registry else {}
    for fs in [] if args.from_registry else feature_sets:
        started = time.perf_counter()
        config = TrainingConfig(feature_set=fs, imbalance=args.imbalance, nthread=args.nthread)
        meta, report = train_one(frame, split, config, args.model_dir, digest, True, console)
        models[fs] = summarize(meta, report, time.perf_counter() - started)
    if "extended" in models:  # the pipeline serves the extended model; anchor stays in the registry
        registry.set_latest(args.model_dir, models["extended"]["version"])
    result = {
        "benchmark": "train",
        "training_set": str(args.training_set),
        "rows": len(frame),
        "data_hash": digest,
        "split": split.to_dict(),
        "seconds_load": round(load_seconds, 2),
        "nthread": args.nthread,
        "models": models,
        "latest": registry.latest_version(args.model_dir),
        "anchor_pr_auc_floor": ANCHOR_PR_AUC_FLOOR,
        "meets_floor": models.get("anchor", {}).get("test_pr_auc", 0) >= ANCHOR_PR_AUC_FLOOR,
        "machine": machine.block(),
    }
    write_report(args.out, result, plot=lambda png: plot(result, png))
    console.print_json(json.dumps(result))


if __name__ == "__main__":
    main()
