"""Benchmark: how much each threshold rule swings with data size and across bootstrap resamples.

For each training set: train the model once (seeded), then apply every rule to the validation
scores, with its Poisson-bootstrap spread (``model.threshold.bootstrap_stability``) and the test
period's precision / recall at the chosen threshold. Writes ``benchmarks/results/threshold.json``.

    fraudstream generate -o /tmp/tx_300k.parquet --transactions 300000
    fraudstream batch training-set -i /tmp/tx_300k.parquet -o /tmp/ts_300k      # same for 1,000,000
    python benchmarks/bench_threshold.py /tmp/ts_300k /tmp/ts_1m --nthread 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fraudstream.model.dataset import feature_matrix, labels, load_training_set, split_by_time
from fraudstream.model.metrics import average_precision, scores_at
from fraudstream.model.pipeline import split_for
from fraudstream.model.threshold import choose_with_stability
from fraudstream.model.training import TrainingConfig, predict, train_booster

RESULTS = Path(__file__).resolve().parent / "results"
RULES = ("best_f1", "target_precision:0.9", "target_precision:0.8", "alert_budget:2", "alert_budget:1")


def measure(path: str, feature_set: str, rules: tuple[str, ...], nthread: int) -> dict:
    frame = load_training_set(path)
    split = split_for(frame)
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
        out["rules"][rule] = {
            "validation": choice.to_report(),
            "test_precision": test["precision"],
            "test_recall": test["recall"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("training_sets", nargs="+")
    parser.add_argument("--feature-set", default="anchor")
    parser.add_argument("--nthread", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "threshold.json"))
    args = parser.parse_args()
    results = [measure(p, args.feature_set, RULES, args.nthread) for p in args.training_sets]
    for r in results:
        print(f"{r['training_set']}: {r['rows']:,} rows, validation frauds {r['validation_frauds']}")
        for rule, s in r["rules"].items():
            if "error" in s:
                print(f"  {rule:24} {s['error']}")
                continue
            v, st = s["validation"], s["validation"]["stability"]["threshold"]
            print(
                f"  {rule:24} thr {v['value']:.4f} (p5-p95 {st['p05']:.4f}-{st['p95']:.4f}) "
                f"val P/R {v['precision']:.3f}/{v['recall']:.3f}  "
                f"test P/R {s['test_precision']:.3f}/{s['test_recall']:.3f}"
            )
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
