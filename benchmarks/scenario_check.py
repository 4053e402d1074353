"""Offline check of the replay scenarios against registered models (no engines): per transaction, the
10-minute window features from the shared reference (streaming.testkit), the shared model inputs, the verdict.

    .venv/bin/python benchmarks/scenario_check.py --model-dir models [--model VERSION] [--out FILE.json]

Writes ``benchmarks/results/model_scenarios.json`` (``"models"``: per model and scenario, frauds flagged,
the first flagged attack position, false positives and the attack's probabilities) and a PNG of the
share of each attack flagged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _common import Machine, figure, grouped_bars, parser, write_report

from fraudstream import features as F
from fraudstream.model import registry
from fraudstream.model.training import predict
from fraudstream.replay.scenarios import BUILTIN_SCENARIOS


def scenario_verdicts(scenario, booster, meta: registry.ModelMetadata) -> dict:
    """Window features by the shared reference definition, then the model's verdict per transaction."""
    from datetime import UTC, datetime, timedelta

    from fraudstream.streaming.testkit import Tx, reference_features

    cards = {c.alias: c for c in scenario.cards}
    start = datetime(2020, 1, 1, tzinfo=UTC)
    txs = sorted(scenario.transactions, key=lambda t: float(t.at))
    sent = [Tx(f"s{i}", tx.card, tx.amount, start + timedelta(seconds=float(tx.at))) for i, tx in enumerate(txs)]
    window = reference_features(sent)
    rows, labels = [], []
    for tx, ref in zip(txs, sent, strict=True):
        count, mean, largest = window[ref.tid]
        card = cards[tx.card]
        rows.append(
            F.compute_model_inputs(
                tx.amount, count, mean, card.num_trans_last_1w, card.avg_amt_last_1w, largest, meta.feature_set
            )[0]
        )
        labels.append(bool(tx.is_fraud))
    probs = predict(booster, np.array(rows))
    flagged = probs >= meta.threshold
    fraud = np.array(labels)
    first = next((i + 1 for i, f in enumerate(flagged[fraud]) if f), None)
    return {
        "fraud_flagged": f"{int(flagged[fraud].sum())}/{int(fraud.sum())}",
        "first_flagged_position": first,
        "false_positives": int((flagged & ~fraud).sum()),
        "fraud_probabilities": [round(float(p), 4) for p in probs[fraud]],
    }


def plot(models: dict[str, dict], path: Path) -> None:
    """Share of each scenario's frauds flagged, one bar per model."""
    scenarios = list(BUILTIN_SCENARIOS)

    def share(flagged: str) -> float:
        hit, total = (int(x) for x in flagged.split("/"))
        return hit / total if total else 0.0

    with figure(path, figsize=(9, 4)) as (_, ax):
        series = {v: [share(m[name]["fraud_flagged"]) for name in scenarios] for v, m in models.items()}
        grouped_bars(ax, scenarios, series, fmt="%.2f")
        ax.set(ylabel="share of the attack's frauds flagged", ylim=(0, 1.1), title="replay scenarios, offline")
        ax.legend(fontsize=7)


def main() -> None:
    cli = parser(__doc__, "model_scenarios.json")
    cli.add_argument("--model-dir", type=Path, default=Path("models"))
    cli.add_argument("--model", action="append", default=None)
    args = cli.parse_args()
    machine = Machine()
    versions = args.model or [m.version for m in registry.list_versions(args.model_dir)]
    out = {}
    for version in versions:
        meta = registry.load_metadata(args.model_dir, version)
        booster = registry.load_booster(args.model_dir, version)
        out[version] = {
            "threshold": meta.threshold,
            **{name: scenario_verdicts(make(), booster, meta) for name, make in BUILTIN_SCENARIOS.items()},
        }
    result = {"benchmark": "model_scenarios", "models": out, "machine": machine.block()}
    write_report(args.out, result, plot=lambda png: plot(out, png))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
