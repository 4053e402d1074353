"""Benchmark (issue 15): the merchant-risk feature sets against the seed sets on the same split.

Reads the registries that ``fraudstream train`` filled, one per label delay (the training set of
each built with that ``--label-delay-days``), and writes ``benchmarks/results/merchant_risk.json``
and ``.png``: test-period average precision, ROC-AUC, card precision@100 (mean of days) per feature
set and delay, and recall of each fraud kind at the model's threshold. Issue target: average
precision above 0.69 on merchant-compromise-heavy data with a 7-day label delay.

    .venv/bin/fraudstream generate --profile rich --transactions 1000000 --cards 5000 --merchants 3000 \\
        -o data/rich.parquet
    .venv/bin/fraudstream batch training-set -i data/rich.parquet -o data/rich-ts7 --label-delay-days 7
    .venv/bin/fraudstream train --training-set data/rich-ts7 --model-dir models-rich7 --feature-set anchor \\
        --feature-set extended --feature-set merchant-risk --feature-set merchant-risk-v2 \\
        --feature-set merchant-risk-v3 --feature-set merchant-risk-v4 --train-start 2020-02-15 \\
        --validation-start 2020-05-01 --test-start 2020-05-15 --gap-days 7 --threshold-rule best_f1 \\
        --learning-rate 0.1 --max-rounds 1000 --nthread 2
    (the same with 0 for the delay-0 registry)
    .venv/bin/python benchmarks/bench_merchant_risk.py --registry 7=models-rich7 --registry 0=models-rich0
"""

from __future__ import annotations

from pathlib import Path

from _common import Machine, figure, grouped_bars, parser, write_report

from fraudstream.model import registry

TARGET_AP = 0.69


def figures(model_dir: Path) -> dict[str, dict]:
    """Test-period figures of the newest version of each feature set in a registry."""
    out: dict[str, dict] = {}
    for meta in registry.list_versions(model_dir):
        report = registry.load_report(model_dir, meta.version)
        out[meta.feature_set] = {
            "version": meta.version,
            "test_rows": report["rows"],
            "test_frauds": report["frauds"],
            "average_precision": round(report["pr_auc"], 4),
            "roc_auc": round(report["roc_auc"], 4),
            "card_precision_at_100_mean": round(report["card_precision_at_100"]["mean"], 4),
            "card_precision_at_100_best_possible": round(report["card_precision_at_100"]["best_possible_mean"], 4),
            "recall_by_fraud_kind_at_threshold": {
                r["kind"]: round(r["recall"], 3) for r in report["recall_by_fraud_kind"]["at_threshold"]
            },
            "threshold": meta.threshold,
            "period": report["period"],
        }
    return out


def plot(result: dict, path: Path) -> None:
    runs = result["label_delay_days"]
    with figure(path, 1, len(runs), figsize=(5.5 * len(runs), 4), squeeze=False) as (_, axes):
        for ax, (delay, models) in zip(axes[0], runs.items(), strict=True):
            names = list(models)
            series = {
                key: [models[n][key] for n in names]
                for key in ("average_precision", "roc_auc", "card_precision_at_100_mean")
            }
            grouped_bars(ax, names, series, fmt="%.3f")
            ax.axhline(TARGET_AP, color="grey", linestyle=":", label=f"target AP {TARGET_AP}")
            ax.set(ylim=(0, 1.05), title=f"test period, label delay {delay} d")
            ax.legend(fontsize=7)


def main() -> None:
    cli = parser(__doc__, Path(__file__).parent / "results" / "merchant_risk.json")
    cli.add_argument("--registry", action="append", required=True, help="DELAY=MODEL_DIR (repeatable)")
    args = cli.parse_args()
    machine = Machine()
    runs = {}
    for spec in args.registry:
        delay, _, model_dir = spec.partition("=")
        runs[delay] = figures(Path(model_dir))
    result = {
        "benchmark": "merchant_risk",
        "label_delay_days": runs,
        "target_average_precision": TARGET_AP,
        "meets_target": {
            d: {name: v["average_precision"] > TARGET_AP for name, v in m.items() if name.startswith("merchant-risk")}
            for d, m in runs.items()
        },
        "machine": machine.block(),
    }
    png = write_report(args.out, result, plot=lambda p: plot(result, p))
    for delay, models in runs.items():
        for name, m in models.items():
            print(
                f"delay {delay} {name:14s} AP {m['average_precision']:.4f} ROC-AUC {m['roc_auc']:.4f} "
                f"CP@100 {m['card_precision_at_100_mean']:.3f}"
            )
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
