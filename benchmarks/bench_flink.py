"""Benchmark: the cc-agg Flink job on the local cluster.

1. Sustained throughput (tx/s) with parallelism 1 and 2: a backlog of N transactions is on the
   topic before the job starts; rate = N / (time between the first and the last ``cc-agg`` record).
2. Delay from a record's append to ``transactions`` to its ``cc-agg`` record at 1,000 tx/s
   (p50/p99), with real-time ``trans_time`` (so the watermark delay is part of the figure).

Uses the engines at ``FRAUDSTREAM_KAFKA_BOOTSTRAP`` / ``FRAUDSTREAM_FLINK_REST`` when set, else
starts private ones on free ports. Writes ``benchmarks/results/flink.json`` (+ ``flink.png``).

    .venv/bin/python benchmarks/bench_flink.py [--transactions 100000] [--rate 1000] [--seconds 30] [--out FILE.json]
"""

from __future__ import annotations

import contextlib
import json
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import Machine, engines, figure, parser, percentiles, write_report

from fraudstream.kafka_clients import consumer_config, produce_waiting, producer_config
from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.submit import stop_job, submit_job


def delete_topics(settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient

    with contextlib.suppress(Exception):
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap}).delete_topics(
            [settings.topic_transactions, settings.topic_agg, settings.topic_dead_letter, settings.topic_predictions]
        )


def card_numbers(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [f"4{rng.randrange(10**15):015d}" for _ in range(n)]


def backlog_rows(n: int, start: datetime, cards: list[str], seed: int = 1) -> list[testkit.Tx]:
    rng = random.Random(seed)
    step = timedelta(milliseconds=20)  # ~4,300 tx/s of event time per day, like a busy issuer
    return [testkit.Tx(f"b{i}", rng.choice(cards), round(rng.uniform(0.5, 900), 2), start + i * step) for i in range(n)]


def produce_encoded(settings: Settings, encoded: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings, **{"linger.ms": 50, "batch.size": 1_000_000}))
    for key, value in encoded:
        produce_waiting(producer, settings.topic_transactions, value, key)
    producer.flush(60)


class AggWatcher(threading.Thread):
    """Reads ``cc-agg`` and records the wall-clock arrival time of each tid's first record."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Consumer

        self.consumer = Consumer(
            consumer_config(f"bench-{uuid.uuid4().hex[:6]}", settings, **{"fetch.wait.max.ms": 10})
        )
        self.consumer.subscribe([settings.topic_agg])
        self.arrivals: dict[str, float] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            for msg in self.consumer.consume(1000, 0.1):
                if msg.error() or not msg.value():
                    continue
                now = time.time()
                tid = json.loads(msg.value())["tid"]
                if not tid.startswith("flush-"):  # primers and watermark flushes are not measured
                    self.arrivals.setdefault(tid, now)
        self.consumer.close()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return len(self.arrivals) >= count


def bench_throughput(settings: Settings, parallelism: int, n: int) -> dict[str, Any]:
    run = testkit.job_settings(settings, f"bench-p{parallelism}", flink_checkpoint_interval_ms=2_000)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = backlog_rows(n, start, card_numbers(5000))
    encoded = [(r.cc_num.encode(), r.encode()) for r in rows]  # encode first: the producer must outrun the job
    submit_job(run, parallelism=parallelism)
    watcher = AggWatcher(run)
    watcher.start()
    t_submit = time.time()
    t0 = time.monotonic()
    produce_encoded(run, encoded)
    produced_s = time.monotonic() - t0
    testkit.produce(run, testkit.flush_rows(run, rows[-1].trans_time + timedelta(hours=1)))
    print(f"  produced {n:,} tx in {produced_s:.1f} s", flush=True)
    ok = watcher.wait_for(n, timeout=600)
    watcher.stop_event.set()
    stop_job(run)
    watcher.join(5)
    delete_topics(run)
    times = sorted(watcher.arrivals.values())
    if not ok or len(times) < 2:
        return {"parallelism": parallelism, "transactions": n, "error": f"only {len(times)} records arrived"}
    span = times[-1] - times[0]
    return {
        "parallelism": parallelism,
        "transactions": n,
        "seconds_first_to_last": round(span, 2),
        "tx_per_s": round((len(times) - 1) / span, 1),
        "seconds_produce_start_to_last": round(times[-1] - t_submit, 1),
        "tx_per_s_produce_start_to_last": round(n / (times[-1] - t_submit), 1),
        "producer_tx_per_s": round(n / produced_s, 1),
    }


def bench_latency(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    from confluent_kafka import Producer

    run = testkit.job_settings(settings, "bench-latency")
    submit_job(run, parallelism=1)
    watcher = AggWatcher(run)
    watcher.start()
    producer = Producer(producer_config(run, **{"linger.ms": 1}))
    cards = card_numbers(5000, seed=9)
    rng = random.Random(3)
    warmup, tail = 5.0, 5.0
    total = int(rate * (warmup + seconds + tail))
    sent: dict[str, float] = {}
    t0 = time.time()
    for i in range(total):
        target = t0 + i / rate
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        tx = testkit.Tx(f"l{i}", rng.choice(cards), round(rng.uniform(0.5, 900), 2), datetime.fromtimestamp(now, UTC))
        producer.produce(run.topic_transactions, key=tx.cc_num.encode(), value=tx.encode())
        producer.poll(0)
        if warmup <= now - t0 < warmup + seconds:
            sent[tx.tid] = now
    producer.flush(30)
    achieved = total / (time.time() - t0)
    watcher.wait_for(len(sent), timeout=30)
    watcher.stop_event.set()
    stop_job(run)
    watcher.join(5)
    delete_topics(run)
    delays = sorted((watcher.arrivals[t] - s) * 1000 for t, s in sent.items() if t in watcher.arrivals)
    if not delays:
        return {"rate": rate, "error": "no cc-agg records arrived"}
    return {
        "target_tx_per_s": rate,
        "achieved_tx_per_s": round(achieved, 1),
        "measured_records": len(sent),
        **percentiles(delays, (50, 90, 99), suffix="_ms", digits=1),  # "n": the records received
        "watermark_delay_ms": run.flink_watermark_delay_ms,
        "delays_ms": delays,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    with figure(path, 1, 2, figsize=(10, 4)) as (_, (ax1, ax2)):
        tp = [r for r in result["throughput"] if "tx_per_s" in r]
        ax1.bar([f"p={r['parallelism']}" for r in tp], [r["tx_per_s"] for r in tp], color="#4c72b0")
        ax1.set_title("cc-agg throughput (backlog)")
        ax1.set_ylabel("transactions / s")
        delays = result["latency"].get("delays_ms", [])
        if delays:
            ax2.hist(delays, bins=60, color="#55a868")
            lat = result["latency"]
            ax2.set_title(f"append → cc-agg at {lat['target_tx_per_s']} tx/s")
            ax2.axvline(lat["p50_ms"], color="k", linestyle="--", label=f"p50 {lat['p50_ms']} ms")
            ax2.axvline(lat["p99_ms"], color="r", linestyle="--", label=f"p99 {lat['p99_ms']} ms")
            ax2.legend()
            ax2.set_xlabel("ms")


def main() -> None:
    cli = parser(__doc__, "flink.json")
    cli.add_argument("--transactions", type=int, default=100_000)
    cli.add_argument("--rate", type=int, default=1000)
    cli.add_argument("--seconds", type=float, default=30.0)
    cli.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    args = cli.parse_args()

    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="bench-flink-") as tmp, engines(Path(tmp), ["kafka", "flink"]) as settings:
        throughput = []
        for p in args.parallelism:
            print(f"throughput, parallelism {p} ...", flush=True)
            throughput.append(bench_throughput(settings, p, args.transactions))
            print(f"  {throughput[-1]}", flush=True)
        print(f"latency at {args.rate} tx/s for {args.seconds:.0f} s ...", flush=True)
        latency = bench_latency(settings, args.rate, args.seconds)
    summary = {k: v for k, v in latency.items() if k != "delays_ms"}
    print(f"  {summary}", flush=True)
    result = {"benchmark": "flink", "throughput": throughput, "latency": summary, "machine": machine.block()}
    write_report(args.out, result, plot=lambda png: plot({**result, "latency": latency}, png))  # the PNG: every delay
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
