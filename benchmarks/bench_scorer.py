"""Benchmark: fraud-scorer throughput (transactions/s) through the local runner, endpoint and store.

Produces ``--transactions`` cc-agg records for ``--cards`` cards (half of them with 1-week features
in DynamoDB), then runs the fraud-scorer runner (in-process, one consumer, fresh resources) until
every record is committed, for each ``--batch-sizes`` value and each ``--caches`` mode of the
scorer's 1-week feature cache:

- ``off``: ``batch_cache_max_cards=0``, one BatchGetItem per batch (the design before the cache);
- ``cold``: an empty cache (a fresh process): each card's first batch reads it, later ones do not;
- ``warm``: the cache already holds every card (a process that has been running).

Each batch = the cache lookups (+ BatchGetItem for misses, + one GetItem of the version marker
at most every second) + one endpoint call + the predictions produced and flushed. The endpoint is
a real ``fraudstream.serving`` process serving ``--model-dir`` (default: a small model trained
here). Engines come from the env (FRAUDSTREAM_KAFKA_BOOTSTRAP, AWS_ENDPOINT_URL) or are started
privately. The machine load (``os.getloadavg``) is recorded at the start and end of every run.
Writes ``benchmarks/results/scorer.json`` and ``scorer.png``.

    .venv/bin/python benchmarks/bench_scorer.py [--transactions 20000] [--batch-sizes 10,100,500]
        [--caches off,cold,warm] [--out FILE.json]
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from _common import LoadSpan, Machine, figure, grouped_bars, parser, percentiles, write_report
from bench_featurestore import store_engines

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


def with_model(settings: Settings, prefix: str = "bench-models-") -> Settings:
    """``settings`` as they are when their registry has a ``latest`` model, else pointing at a tiny one made here."""
    if (settings.model_dir / "latest").exists():
        return settings
    model_dir = Path(tempfile.mkdtemp(prefix=prefix))
    tiny_model(model_dir)
    return settings.model_copy(update={"model_dir": model_dir})


@contextlib.contextmanager
def endpoint(model_dir: Path, log: Path) -> Iterator[tuple[str, int]]:
    """A real ``fraudstream serve`` process for the run (the same launcher the tests use): URL and pid."""
    from fraudstream.testing.models import start_endpoint, stop_endpoint

    proc, url = start_endpoint(model_dir, log)
    try:
        yield url, proc.pid
    finally:
        stop_endpoint(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


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


class CommittedWatcher:
    """The group's committed offsets on ``cc-agg``, through one long-lived consumer that never joins the group
    (a consumer per poll would cost the scorer process measurable CPU)."""

    def __init__(self, settings: Settings, group: str) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from fraudstream.kafka_clients import consumer_config

        self.consumer = Consumer(consumer_config(group, settings))
        self.partitions = [TopicPartition(settings.topic_agg, p) for p in range(settings.partitions)]

    def total(self) -> int:
        from confluent_kafka import KafkaException

        try:
            return sum(max(tp.offset, 0) for tp in self.consumer.committed(self.partitions, timeout=10))
        except KafkaException:  # e.g. NOT_COORDINATOR while a fresh broker loads its offsets topic: ask again
            return 0

    def close(self) -> None:
        self.consumer.close()


def run_once(settings: Settings, n: int, batch_size: int, cache: str, cards: int, endpoint_pid: int) -> dict:
    from fraudstream.handlers.fraud_scorer import handle
    from fraudstream.handlers.resources import HandlerResources
    from fraudstream.handlers.runner import HandlerRunner

    run_settings = settings.model_copy(update={"batch_cache_max_cards": 0} if cache == "off" else {})
    resources = HandlerResources(run_settings)
    if cache == "warm":
        all_cards = [f"4{i:015d}" for i in range(cards)]
        for i in range(0, len(all_cards), 1000):
            resources.batch_cache.get_many(all_cards[i : i + 1000])
    before = replace(resources.batch_cache.stats)  # the run's own lookups are counted from here
    handler_ms: list[float] = []
    spent = {"store_ms": 0.0, "endpoint_ms": 0.0, "flush_ms": 0.0}

    def timing(obj, name: str, key: str) -> None:
        inner = getattr(obj, name)

        def wrapped(*a, **kw):
            t0 = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                spent[key] += (time.perf_counter() - t0) * 1000

        setattr(obj, name, wrapped)

    timing(resources.batch_cache, "get_many", "store_ms")
    timing(resources.endpoint, "predict", "endpoint_ms")
    timing(resources, "flush", "flush_ms")

    def timed_handle(event, context, res):
        t0 = time.perf_counter()
        out = handle(event, context, res)
        handler_ms.append((time.perf_counter() - t0) * 1000)
        return out

    group = f"bench-scorer-{batch_size}-{cache}-{time.time_ns()}"
    load = LoadSpan()
    cpu_before, endpoint_cpu_before = time.process_time(), cpu_seconds(endpoint_pid)
    runner = HandlerRunner(
        "fraud-scorer", run_settings, batch_size, 50, group_id=group, resources=resources, invoke=timed_handle
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    watcher = CommittedWatcher(settings, group)
    t0 = time.perf_counter()
    thread.start()
    while watcher.total() < n:
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu_before  # this process: runner, handler, Kafka client threads, the poller
    endpoint_cpu = cpu_seconds(endpoint_pid) - endpoint_cpu_before
    runner.stop_event.set()
    thread.join(30)
    watcher.close()
    ms = np.array(handler_ms)
    handler = percentiles(ms)
    stats = resources.batch_cache.stats
    if cache == "warm":  # the run's own lookups, not the warm-up's
        for name in ("hits", "misses", "store_reads", "version_checks"):
            setattr(stats, name, getattr(stats, name) - getattr(before, name))
    run = {
        "batch_size": batch_size,
        "cache": cache,
        "transactions": n,
        "seconds": round(elapsed, 2),
        "tx_per_second": round(n / elapsed, 1),
        "batches": runner.stats.batches,
        "failed_batches": runner.stats.failed_batches,
        "handler_ms_p50": handler["p50"],
        "handler_ms_p99": handler["p99"],
        "handler_tx_per_second": round(runner.stats.records / (ms.sum() / 1000), 1),
        "scorer_cpu_s": round(cpu, 2),
        "tx_per_scorer_cpu_second": round(n / cpu, 1),
        "endpoint_cpu_s": round(endpoint_cpu, 2),
        "features_ms_per_batch": round(spent["store_ms"] / len(ms), 3),
        "endpoint_ms_per_batch": round(spent["endpoint_ms"] / len(ms), 3),
        "flush_ms_per_batch": round(spent["flush_ms"] / len(ms), 3),
        "cache_hits": stats.hits,
        "cache_misses": stats.misses,
        "store_batch_gets": stats.store_reads,
        "version_checks": stats.version_checks,
        **load.keys(),
    }
    print(json.dumps(run), flush=True)
    return run


def plot(runs: list[dict], path: Path) -> None:
    rate = {(r["batch_size"], r["cache"]): r["tx_per_second"] for r in runs}
    sizes = sorted({b for b, _ in rate})
    caches = list(dict.fromkeys(c for _, c in rate))
    with figure(path, figsize=(8, 4.5)) as (_, ax):
        grouped_bars(ax, sizes, {f"cache {c}": [rate.get((b, c), 0) for b in sizes] for c in caches})
        ax.axhline(5000, color="grey", linestyle=":", linewidth=1, label="target 5,000 tx/s")
        ax.set_xlabel("batch size (records per invocation)")
        ax.set_ylabel("transactions / s (runner end to end)")
        ax.set_title("fraud-scorer throughput (1 consumer, local endpoint, DynamoDB Local)")
        ax.legend(fontsize=8)


def main() -> None:
    cli = parser(__doc__, "scorer.json")
    cli.add_argument("--transactions", type=int, default=20_000)
    cli.add_argument("--cards", type=int, default=2_000)
    cli.add_argument("--batch-sizes", default="10,100,500")
    cli.add_argument("--caches", default="off,cold,warm", help="cache modes, comma-separated (see the doc)")
    cli.add_argument("--model-dir", type=Path, default=None)
    args = cli.parse_args()

    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP

    machine = Machine()
    with (
        tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp,
        store_engines(Path(tmp), ["kafka", "dynamodb"]) as s,
    ):
        model_dir = args.model_dir
        if model_dir is None:
            model_dir = Path(tmp) / "models"
            tiny_model(model_dir)
        with endpoint(model_dir, Path(tmp) / "serve.log") as (url, endpoint_pid):
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
            runs = [
                run_once(settings, args.transactions, int(b), cache, args.cards, endpoint_pid)
                for b in args.batch_sizes.split(",")
                for cache in args.caches.split(",")
            ]
    doc = {
        "benchmark": "fraud_scorer_throughput",
        "setup": "1 runner consumer, 4 partitions, local uvicorn endpoint (1 worker), DynamoDB Local, one host",
        "runs": runs,
        "machine": machine.block(),
    }
    write_report(args.out, doc, plot=lambda png: plot(runs, png))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
