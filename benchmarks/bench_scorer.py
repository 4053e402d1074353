"""Benchmark: fraud-scorer throughput (transactions/s) through the local runner, endpoint and store.

Produces ``--transactions`` cc-agg records for ``--cards`` cards whose 1-week features are in
DynamoDB, then runs the fraud-scorer runner (in-process, one consumer) until every record is
committed, for each ``--batch-sizes`` value. Each batch = one BatchGetItem + one endpoint call +
the predictions produced and flushed. The endpoint is a real ``fraudstream.serving`` process
serving ``--model-dir`` (default: a small model trained here). Engines come from the env
(FRAUDSTREAM_KAFKA_BOOTSTRAP, AWS_ENDPOINT_URL) or are started privately.
Writes ``benchmarks/results/scorer.json`` and ``scorer.png``.

    .venv/bin/python benchmarks/bench_scorer.py [--transactions 20000] [--batch-sizes 100,500]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from bench_featurestore import RESULTS, engines

from fraudstream.settings import Settings


def tiny_model(model_dir: Path) -> None:
    """A small real XGBoost model on the anchor inputs (when no registry is given)."""
    import xgboost as xgb

    from fraudstream import features as F
    from fraudstream.model.registry import save_model

    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 2.0, size=(5000, 4))
    x[rng.random(5000) < 0.2, 1:] = np.nan
    y = ((x[:, 3] > 4) | (x[:, 0] > 9)).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4}, xgb.DMatrix(x, label=y), 50)
    save_model(
        model_dir,
        booster,
        feature_set="anchor",
        feature_names=list(F.model_input_names("anchor")),
        threshold=0.5,
        threshold_rule="bench",
        training_window={},
        data_hash="bench",
    )


@contextlib.contextmanager
def endpoint(model_dir: Path, log: Path) -> Iterator[str]:
    """A real ``fraudstream serve`` process for the run (the same launcher the tests use)."""
    from fraudstream.testing.models import start_endpoint, stop_endpoint

    proc, url = start_endpoint(model_dir, log)
    try:
        yield url
    finally:
        stop_endpoint(proc)


def produce(settings: Settings, n: int, cards: int) -> None:
    from confluent_kafka import Producer

    from fraudstream.kafka_clients import producer_config
    from fraudstream.messages import CardAggregate, encode

    producer = Producer(producer_config(settings))
    base = datetime(2020, 3, 2, 10, tzinfo=UTC)
    for i in range(n):
        agg = CardAggregate(
            tid=f"tx-{i}",
            cc_num=f"4{i % cards:015d}",
            amount=float(i % 700) + 0.5,
            trans_time=base + timedelta(milliseconds=i),
            num_trans_last_10m=1 + i % 6,
            avg_amt_last_10m=float(i % 400) + 1.0,
            max_amt_last_10m=float(i % 700) + 0.5,
        )
        producer.produce(settings.topic_agg, key=agg.cc_num.encode(), value=encode(agg))
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def committed_total(settings: Settings, group: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config

    consumer = Consumer(consumer_config(group, settings))
    try:
        tps = consumer.committed(
            [TopicPartition(settings.topic_agg, p) for p in range(settings.partitions)], timeout=10
        )
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        consumer.close()


def run_once(settings: Settings, n: int, batch_size: int) -> dict:
    from fraudstream.handlers.fraud_scorer import handle
    from fraudstream.handlers.runner import HandlerRunner

    handler_ms: list[float] = []

    def timed_handle(event, context, resources):
        t0 = time.perf_counter()
        out = handle(event, context, resources)
        handler_ms.append((time.perf_counter() - t0) * 1000)
        return out

    group = f"bench-scorer-{batch_size}-{time.time_ns()}"
    runner = HandlerRunner("fraud-scorer", settings, batch_size, 50, group_id=group, invoke=timed_handle)
    thread = threading.Thread(target=runner.run, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    while committed_total(settings, group) < n:
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    runner.stop_event.set()
    thread.join(30)
    ms = np.array(handler_ms)
    return {
        "batch_size": batch_size,
        "transactions": n,
        "seconds": round(elapsed, 2),
        "tx_per_second": round(n / elapsed, 1),
        "batches": runner.stats.batches,
        "failed_batches": runner.stats.failed_batches,
        "handler_ms_p50": round(float(np.percentile(ms, 50)), 2),
        "handler_ms_p99": round(float(np.percentile(ms, 99)), 2),
        "handler_tx_per_second": round(n / (ms.sum() / 1000), 1),
    }


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [str(r["batch_size"]) for r in runs]
    ax.bar(labels, [r["tx_per_second"] for r in runs], color="tab:blue", label="runner end to end")
    ax.plot(labels, [r["handler_tx_per_second"] for r in runs], "o-", color="tab:orange", label="inside the handler")
    ax.set_xlabel("batch size (records per invocation)")
    ax.set_ylabel("transactions / s")
    ax.set_title("fraud-scorer throughput (1 consumer, local endpoint, DynamoDB Local)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--batch-sizes", default="100,500")
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()

    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP

    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp, engines(Path(tmp), ["kafka", "dynamodb"]) as s:
        model_dir = args.model_dir
        if model_dir is None:
            model_dir = Path(tmp) / "models"
            tiny_model(model_dir)
        with endpoint(model_dir, Path(tmp) / "serve.log") as url:
            settings = s.model_copy(update={"endpoint_url_override": url, "model_dir": model_dir})
            DynamoFeatureStore(settings).put_records(
                BATCH_GROUP,
                [
                    {
                        "cc_num": f"4{i:015d}",
                        "num_trans_last_1w": 1 + i % 40,
                        "avg_amt_last_1w": 5.0 + i % 500,
                        "as_of": "2020-03-02T00:00:00.000Z",
                    }
                    for i in range(0, args.cards, 2)  # half the cards have history
                ],
            )
            produce(settings, args.transactions, args.cards)
            runs = [run_once(settings, args.transactions, int(b)) for b in args.batch_sizes.split(",")]
    doc = {
        "benchmark": "fraud_scorer_throughput",
        "setup": "1 runner consumer, 4 partitions, local uvicorn endpoint (1 worker), DynamoDB Local, one host",
        "load_average_1m": round(os.getloadavg()[0], 1),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scorer.json").write_text(json.dumps(doc, indent=2) + "\n")
    plot(runs, RESULTS / "scorer.png")
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
