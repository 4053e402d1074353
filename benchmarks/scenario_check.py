"""Offline check of the replay scenarios against registered models (no engines): per transaction, the
10-minute window features from the shared reference (streaming.testkit), the shared model inputs, the verdict.

    .venv/bin/python benchmarks/scenario_check.py --model-dir models [--model VERSION]

Writes ``benchmarks/results/model_scenarios.json``: per model and scenario, frauds flagged, the first
flagged attack position, false positives and the attack's probabilities.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fraudstream import features as F
from fraudstream.model import registry
from fraudstream.model.training import predict
from fraudstream.replay.scenarios import BUILTIN_SCENARIOS

RESULTS = Path(__file__).resolve().parent / "results"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--model", action="append", default=None)
    args = parser.parse_args()
    versions = args.model or [m.version for m in registry.list_versions(args.model_dir)]
    out = {}
    for version in versions:
        meta = registry.load_metadata(args.model_dir, version)
        booster = registry.load_booster(args.model_dir, version)
        out[version] = {
            "threshold": meta.threshold,
            **{name: scenario_verdicts(make(), booster, meta) for name, make in BUILTIN_SCENARIOS.items()},
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_scenarios.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
