"""Benchmark: how much each threshold rule swings with data size and across bootstrap resamples.

For each training set: train the model once (seeded), then apply every rule to the validation
scores, with its Poisson-bootstrap spread (``model.threshold.bootstrap_stability``) and the test
period's precision / recall at the chosen threshold, and the seed replay (``seed-article``, offline
through ``scenario_check``) at it. Writes ``benchmarks/results/threshold.json`` and ``threshold.png``.

    fraudstream generate -o /tmp/tx_600k.parquet --transactions 600000     # and the default 5,400,000
    fraudstream batch training-set -i /tmp/tx_600k.parquet -o /tmp/ts_600k
    python benchmarks/bench_threshold.py /tmp/ts_600k /tmp/ts_5400k --feature-set extended --nthread 2
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from _common import Machine, figure, write_report
from _common import parser as common_parser
from scenario_check import scenario_verdicts

from fraudstream.model.dataset import feature_matrix, labels, load_training_set, split_by_time
from fraudstream.model.metrics import average_precision, scores_at
from fraudstream.model.pipeline import split_for
from fraudstream.model.threshold import choose_with_stability
from fraudstream.model.training import TrainingConfig, predict, train_booster
from fraudstream.replay.scenarios import BUILTIN_SCENARIOS

RULES = (
    "best_f1",
    "recall_at_precision:0.9",
    "target_precision:0.9",
    "target_precision:0.8",
    "alert_budget:2/1000",
    "alert_budget:50",
)


def measure(path: str, feature_set: str, rules: tuple[str, ...], nthread: int, gap_days: float = 0.0) -> dict:
    frame = load_training_set(path)
    split = split_for(frame, gap_days)
    parts = split_by_time(frame, split)
    x = {n: feature_matrix(getattr(parts, n), feature_set) for n in ("train", "validation", "test")}
    y = {n: labels(getattr(parts, n)) for n in ("train", "validation", "test")}
    config = TrainingConfig(feature_set=feature_set, nthread=nthread)
    trained = train_booster(x["train"], y["train"], x["validation"], y["validation"], config)
    p_val, p_test = predict(trained.booster, x["validation"]), predict(trained.booster, x["test"])
    days = (split.test_start - split.validation_start).total_seconds() / 86400
    out = {
        "training_set": path,
        "rows": len(frame),
        "validation_rows": len(parts.validation),
        "validation_frauds": int(y["validation"].sum()),
        "validation_pr_auc": average_precision(y["validation"], p_val),
        "test_pr_auc": average_precision(y["test"], p_test),
        "rules": {},
    }
    for rule in rules:
        try:
            choice = choose_with_stability(y["validation"], p_val, rule, days, seed=config.seed)
        except ValueError as exc:
            out["rules"][rule] = {"error": str(exc)}
            continue
        test = scores_at(y["test"], p_test, choice.threshold)
        replay = scenario_verdicts(
            BUILTIN_SCENARIOS["seed-article"](),
            trained.booster,
            SimpleNamespace(feature_set=feature_set, **vars(choice)),
        )
        out["rules"][rule] = {
            "validation": choice.to_report(),
            "test_precision": test["precision"],
            "test_recall": test["recall"],
            "seed_replay_flagged": replay["fraud_flagged"],
            "seed_replay_first_flagged": replay["first_flagged_position"],
        }
    return out


def plot(results: list[dict], path: Path) -> None:
    """Per rule and training set: the chosen threshold with its bootstrap p5-p95 bar."""
    with figure(path, figsize=(8, 3.6)) as (_, ax):
        for j, r in enumerate(results):
            ok = [(rule, s["validation"]) for rule, s in r["rules"].items() if "validation" in s]
            ys = [i + 0.15 * j for i in range(len(ok))]
            values = [v["value"] for _, v in ok]
            lo = [v["value"] - v["stability"]["threshold"]["p05"] for _, v in ok]
            hi = [v["stability"]["threshold"]["p95"] - v["value"] for _, v in ok]
            label = f"{r['rows']:,} rows ({r['validation_frauds']} validation frauds)"
            ax.errorbar(values, ys, xerr=[lo, hi], fmt="o", capsize=3, label=label)
            ax.set_yticks(range(len(ok)), [rule for rule, _ in ok])
        ax.set_xlabel("threshold (dot: chosen; bar: bootstrap p5-p95 of the re-chosen threshold)")
        ax.set_title("threshold rules: value and stability by training-set size", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")


def print_figures(r: dict) -> None:
    print(f"{r['training_set']}: {r['rows']:,} rows, validation frauds {r['validation_frauds']}")
    for rule, s in r["rules"].items():
        if "error" in s:
            print(f"  {rule:24} {s['error']}")
            continue
        v, st = s["validation"], s["validation"]["stability"]["threshold"]
        print(
            f"  {rule:24} thr {v['value']:.4f} (p5-p95 {st['p05']:.4f}-{st['p95']:.4f}) "
            f"val P/R {v['precision']:.3f}/{v['recall']:.3f}  "
            f"test P/R {s['test_precision']:.3f}/{s['test_recall']:.3f}  "
            f"seed replay {s['seed_replay_flagged']} (first #{s['seed_replay_first_flagged']})",
            flush=True,
        )


def main() -> None:
    parser = common_parser(__doc__, "threshold.json")
    parser.add_argument("training_sets", nargs="+")
    parser.add_argument("--feature-set", default="extended")
    parser.add_argument("--nthread", type=int, default=1)
    parser.add_argument("--gap-days", type=float, default=0.0, help="label delay dropped before validation/test")
    args = parser.parse_args()
    machine = Machine()
    results = []
    for path in args.training_sets:
        results.append(measure(path, args.feature_set, RULES, args.nthread, args.gap_days))
        print_figures(results[-1])
    payload = {
        "benchmark": "threshold",
        "feature_set": args.feature_set,
        "gap_days": args.gap_days,
        "training_sets": results,
        "machine": machine.block(),
    }
    png = write_report(args.out, payload, lambda png: plot(results, png))
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
