"""Benchmark: online read latency of the feature store (both groups, one BatchGetItem) on DynamoDB Local.

Loads ``--cards`` cards into both feature groups, then times ``DynamoFeatureStore.batch_get`` for
one card and for a 100-card batch (the fraud-scorer's read), plus a single ``get_record``.
Uses ``AWS_ENDPOINT_URL`` when set, else starts a private DynamoDB Local on a free port.
Writes ``benchmarks/results/featurestore.json`` and ``featurestore.png``.

    .venv/bin/python benchmarks/bench_featurestore.py [--cards 10000] [--iterations 1000] [--out FILE.json]
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from _common import Machine, engines, figure, parser, percentiles, write_report

from fraudstream.settings import Settings


@contextlib.contextmanager
def store_engines(state_dir: Path, names: Iterable[str]) -> Iterator[Settings]:
    """:func:`_common.engines` with tables and topics of this run's own (created here, tables dropped after)."""
    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.kafka_clients import ensure_topics

    names = list(names)
    suffix = uuid.uuid4().hex[:8]
    with engines(state_dir, names) as base:
        settings = base.model_copy(
            update={
                "table_agg": f"bench-agg-{suffix}",
                "table_batch": f"bench-batch-{suffix}",
                **{
                    f: f"bench-{getattr(base, f)}-{suffix}"
                    for f in ("topic_agg", "topic_predictions", "topic_dead_letter")
                },
            }
        )
        try:
            if "dynamodb" in names:
                ensure_tables(settings)
            if "kafka" in names:
                ensure_topics(settings, (settings.topic_agg, settings.topic_predictions, settings.topic_dead_letter))
            yield settings
        finally:
            if "dynamodb" in names:
                from fraudstream.aws_clients import dynamodb_client

                for table in (settings.table_agg, settings.table_batch):
                    with contextlib.suppress(Exception):
                        dynamodb_client(settings).delete_table(TableName=table)


def card(i: int) -> str:
    return f"4{i:015d}"


def load(store, cards: int) -> float:
    """Both groups filled for every card; returns the load time (s)."""
    from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP

    t0 = time.perf_counter()
    batch = [
        {
            "cc_num": card(i),
            "num_trans_last_1w": 1 + i % 50,
            "avg_amt_last_1w": 10.0 + i % 900,
            "as_of": "2020-03-02T00:00:00.000Z",
        }
        for i in range(cards)
    ]
    stream = [
        {
            "cc_num": card(i),
            "tid": f"t{i}",
            "trans_time": "2020-03-02T10:00:00.000Z",
            "num_trans_last_10m": 1 + i % 5,
            "avg_amt_last_10m": 12.5 + i % 300,
            "max_amt_last_10m": 20.0 + i % 300,
        }
        for i in range(cards)
    ]
    for group, records in ((BATCH_GROUP, batch), (STREAM_GROUP, stream)):
        summary = store.put_records(group, records)
        assert summary.failed == 0, summary.errors
    return time.perf_counter() - t0


def timed(fn, iterations: int, warmup: int = 20) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(iterations)
    for i in range(iterations):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1000
    return out


def summary(ms: np.ndarray) -> dict[str, float]:
    return {**percentiles(ms, suffix="_ms", digits=3), "mean_ms": round(float(ms.mean()), 3)}


def plot(results: dict[str, np.ndarray], path: Path) -> None:
    with figure(path, figsize=(8, 4.5)) as (_, ax):
        for name, ms in results.items():
            s = percentiles(ms)
            ax.hist(ms, bins=60, alpha=0.55, label=f"{name}: p50 {s['p50']:.2f} ms, p99 {s['p99']:.2f} ms")
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("reads")
        ax.set_title("Online feature reads on DynamoDB Local (both groups, BatchGetItem)")
        ax.legend()


def main() -> None:
    cli = parser(__doc__, "featurestore.json")
    cli.add_argument("--cards", type=int, default=10_000)
    cli.add_argument("--iterations", type=int, default=1000)
    args = cli.parse_args()

    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import STREAM_GROUP

    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="bench-fs-") as tmp, store_engines(Path(tmp), ["dynamodb"]) as settings:
        store = DynamoFeatureStore(settings)
        load_s = load(store, args.cards)
        rng = random.Random(1)
        lat = {
            "get_record (1 card, 1 group)": timed(
                lambda: store.get_record(STREAM_GROUP, card(rng.randrange(args.cards))), args.iterations
            ),
            "batch_get 1 card, 2 groups": timed(
                lambda: store.batch_get([card(rng.randrange(args.cards))]), args.iterations
            ),
            "batch_get 100 cards, 2 groups": timed(
                lambda: store.batch_get([card(i) for i in rng.sample(range(args.cards), 100)]),
                max(100, args.iterations // 5),
            ),
        }
    doc = {
        "benchmark": "featurestore_online_read",
        "backend": "DynamoDB Local (in-memory) via boto3, same host",
        "cards": args.cards,
        "load_seconds_both_groups": round(load_s, 2),
        "load_puts_per_second": round(2 * args.cards / load_s, 1),
        "latency": {name: summary(ms) for name, ms in lat.items()},
        "anchor_feast_dynamodb_python_server": {"p50_ms": 32, "p99_ms": 77},
        "machine": machine.block(),
    }
    write_report(args.out, doc, plot=lambda png: plot(lat, png))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
