"""Benchmark: send → prediction latency of the whole local pipeline at steady rates, hop by hop.

For each rate (default 20, 1,000 and 3,000 tx/s) it sends live transactions (event time = now) on
``--cards`` cards whose 1-week features are in the store, for ``--seconds``, through the real
pipeline: Kafka → Flink cc-agg job (with the stream clock) → fraud-scorer runner → endpoint →
``predictions`` (and the agg-writer beside it). Every prediction is awaited by ``tid``. Each rate
first runs ``--warmup-seconds`` of the same traffic unmeasured (steady state, not the step to it).

Per transaction the hops come from broker append times (``transactions``, ``cc-agg`` and
``predictions`` are log-append-time topics) and the prediction's ``scored_at``:

    send → transactions append          Kafka in
    transactions → cc-agg append        Flink (clock wait + card window + sink)
    cc-agg append → scored_at           scorer (consume, 1-week features, endpoint call, build)
    scored_at → predictions append      predictions out
    predictions append → read           read back (the benchmark's consumer)

It also measures the backlog rate through the job (a burst of time-sorted old transactions until
their cc-agg records are all out), and the two sub-steps of the scorer hop on their own (a store
read of a batch's cards, one endpoint call). Uses the stack of the current settings (``stack up``
is idempotent and starts the clock); starts the job, the endpoint (serving ``--model-dir`` or a small
model trained here) and both handler runners when they are not running. For each rate it also
reports the CPU each process used while sending (in cores; the box has ``os.cpu_count()``), and the
machine's load average around the rate (``load_avg_1m_start`` / ``_end``; the whole run's in the
``machine`` block of ``benchmarks/_common.py``): figures from a loaded box say so. Writes
``benchmarks/results/latency.json`` and ``latency.png`` (``latency_PROFILE.*`` under another handler profile).

    .venv/bin/python benchmarks/bench_latency.py [--rates 20,1000,3000] [--seconds 30] [--warmup-seconds 5]
"""

from __future__ import annotations

import gc
import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, LoadSpan, Machine, figure, parser, percentiles, write_report
from _live import CpuMeter, handler_lag, pipeline_pids, seed_cards, send_live, start_pipeline
from bench_scorer import with_model

from fraudstream.settings import Settings, get_settings
from fraudstream.streaming.testkit import end_offsets

HOPS = ("kafka_in", "flink", "scorer", "predictions_out", "read_back")


# ---------------------------------------------------------------------------------------- Kafka
def read_from(settings: Settings, topic: str, start: dict[int, int], wanted: set[str]) -> dict[str, tuple[int, dict]]:
    """tid → (broker timestamp ms, value) of the first record of each wanted tid after ``start``."""
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.messages import is_heartbeat

    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}",
                  "enable.auto.commit": False})  # fmt: skip
    ends = end_offsets(settings, topic)
    c.assign([TopicPartition(topic, p, o) for p, o in start.items()])
    remaining = {p for p in ends if ends[p] > start.get(p, 0)}
    out: dict[str, tuple[int, dict]] = {}
    deadline = time.monotonic() + 120
    try:
        while remaining and time.monotonic() < deadline:
            for msg in c.consume(2000, 0.5):
                if msg.error():
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    remaining.discard(msg.partition())
                if is_heartbeat(msg.value()):
                    continue
                value = json.loads(msg.value())
                tid = value.get("tid")
                if tid in wanted and tid not in out:
                    out[tid] = (msg.timestamp()[1], value)
    finally:
        c.close()
    return out


class LagSampler:
    """The agg-writer's lag on ``cc-agg`` every ``every_s`` in a thread, while a rate runs: does it grow?"""

    def __init__(self, settings: Settings, every_s: float = 2.0) -> None:
        self.settings, self.every_s = settings, every_s
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.samples.append(handler_lag(self.settings, "agg-writer"))
            except Exception:  # a sample lost is no reason to stop the benchmark
                continue

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def agg_writer_catch_up(settings: Settings, since: float, timeout: float = 60.0) -> dict[str, Any]:
    """Whether the agg-writer (off the verdict path, lower priority) kept up: its lag on ``cc-agg`` when
    the last prediction arrived, and how long after the last send it had committed everything."""
    lag = handler_lag(settings, "agg-writer")
    deadline = time.monotonic() + timeout
    left = lag
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = handler_lag(settings, "agg-writer")
    return {"lag_at_drain": lag, "caught_up_s_after_last_send": None if left else round(time.monotonic() - since, 2)}


# ---------------------------------------------------------------------------------------- one rate
def run_rate(
    settings: Settings,
    rate: float,
    seconds: float,
    cards: list[str],
    rng: random.Random,
    card_order: list[str] | None = None,
    warmup_s: float = 0.0,
) -> dict[str, Any]:
    """``rate`` tx/s for ``seconds`` on random cards of ``cards`` (or exactly ``card_order``, in order).

    With ``warmup_s`` the same paced traffic runs that long first, unmeasured and without a gap: the
    figures are of steady traffic at ``rate``, not of the step up to it from the previous rate
    (JVM heaps resizing to a new allocation rate, batch sizes growing: measured, the first 3-5 s
    after a step from 20 to 1,000 tx/s had p50 90-220 ms)."""
    from fraudstream.kafka_clients import connected_producer
    from fraudstream.messages import parse_time
    from fraudstream.replay.runner import PredictionCollector

    n = len(card_order) if card_order else max(1, int(rate * seconds))
    run = uuid.uuid4().hex[:6]
    tids = [f"lat-{run}-{i:07d}" for i in range(n)]
    n_warm = 0 if card_order else int(rate * warmup_s)
    schedule = [f"warm-{run}-{i:07d}" for i in range(n_warm)] + tids
    starts = {t: end_offsets(settings, t) for t in (settings.topic_transactions, settings.topic_agg,
                                                     settings.topic_predictions)}  # fmt: skip
    collector = PredictionCollector(settings, tids).start()
    producer = connected_producer(settings, **{"linger.ms": 0})
    sent_at: dict[str, float] = {}
    sent_rows: list[tuple[str, str, float, datetime]] = []
    meter = CpuMeter(pipeline_pids(settings))
    sampler = LagSampler(settings).__enter__()
    # The benchmark's own pauses are measurement error: a full collection of its heap (every row sent,
    # every prediction received) took 80-110 ms here, several a second at 1,000 tx/s, and a pause
    # between a row's send time and its produce call, or before a prediction's receive time, was
    # counted as pipeline latency. Freeze what exists and collect no cycles while sending.
    gc.collect()
    gc.freeze()
    gc.disable()
    t0 = t_measured = time.monotonic()
    for i, tid in enumerate(schedule):
        if i == n_warm and n_warm:  # the warm-up is over: measure from here
            meter, t_measured = CpuMeter(pipeline_pids(settings)), time.monotonic()
        card = card_order[i] if card_order else rng.choice(cards)
        tx, at = send_live(producer, settings, t0 + i / rate, tid, card, round(rng.uniform(1, 500), 2))
        if i >= n_warm:
            sent_rows.append((tid, card, tx.amount, tx.trans_time))
            sent_at[tid] = at  # "send" = handed to the Kafka client: the benchmark's own work is before it
    send_s = time.monotonic() - t_measured
    cpu = meter.cores()
    sampler.__exit__()
    producer.flush(30)
    collector.wait(60, interval=0.05)
    drain_s = time.monotonic() - t_measured - send_s
    gc.enable()
    gc.unfreeze()
    agg_writer = {"lag_while_sending_every_2s": sampler.samples,
                  **agg_writer_catch_up(settings, since=t_measured + send_s)}  # fmt: skip
    collector.stop()
    received = dict(collector.received)

    wanted = set(tids)
    tx_rec = read_from(settings, settings.topic_transactions, starts[settings.topic_transactions], wanted)
    agg_rec = read_from(settings, settings.topic_agg, starts[settings.topic_agg], wanted)
    pred_rec = read_from(settings, settings.topic_predictions, starts[settings.topic_predictions], wanted)
    e2e, on_topic, hops = [], [], {h: [] for h in HOPS}
    by_second: dict[int, list[float]] = {}
    first_sent = min(sent_at.values()) if sent_at else 0.0
    for tid in tids:
        if tid not in received:
            continue
        got_at = received[tid][1]
        e2e.append((got_at - sent_at[tid]) * 1000)
        by_second.setdefault(int(sent_at[tid] - first_sent), []).append(e2e[-1])
        if tid in tx_rec and tid in agg_rec and tid in pred_rec:
            scored = parse_time(pred_rec[tid][1]["scored_at"]).timestamp() * 1000
            tx_ts, agg_ts, pred_ts = tx_rec[tid][0], agg_rec[tid][0], pred_rec[tid][0]
            hops["kafka_in"].append(tx_ts - sent_at[tid] * 1000)
            hops["flink"].append(agg_ts - tx_ts)
            hops["scorer"].append(scored - agg_ts)
            hops["predictions_out"].append(pred_ts - scored)
            hops["read_back"].append(got_at * 1000 - pred_ts)
            on_topic.append(pred_ts - sent_at[tid] * 1000)
    return {
        "rate_target": rate,
        "warmup_s_unmeasured": warmup_s if n_warm else 0.0,
        "rate_sent": round(n / send_s, 1),
        "transactions": n,
        "predicted": len(received),
        "missing": n - len(received),
        "drain_after_last_send_s": round(drain_s, 2),
        "agg_writer": agg_writer,
        "e2e_ms": _stats(e2e),
        # send → the prediction appended to `predictions` (its broker time): what any reader can have it by,
        # without the benchmark's own reading (its consumer shares a Python process with the paced sender)
        "e2e_to_topic_ms": _stats(on_topic),
        "hops_ms": {h: _stats(v) for h, v in hops.items()},
        # send → prediction by the second it was sent in: a periodic spike (checkpoint, GC) shows here
        "e2e_ms_per_second": [{"second": sec, **_stats(v)} for sec, v in sorted(by_second.items())],
        "cpu_cores_while_sending": cpu,
        "sent_rows": sent_rows,  # (tid, cc_num, amount, trans_time): for an offline recomputation
    }


def _stats(values: list[float]) -> dict[str, float | int | None]:
    """``p50``, ``p99``, ``max`` (ms, one decimal) and ``n``: the figures the README quotes."""
    return percentiles(values, digits=1)


# ---------------------------------------------------------------------------------------- backlog
def backlog_rate(settings: Settings, n: int, rng: random.Random) -> dict[str, Any]:
    """A burst of ``n`` time-sorted transactions from a past fortnight: tx/s until all are on cc-agg."""
    from fraudstream.streaming import testkit
    from fraudstream.streaming.testkit import Tx

    run = uuid.uuid4().hex[:6]
    start = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(300))
    cards = [f"8{rng.randrange(10**15):015d}" for _ in range(300)]
    times = sorted(rng.uniform(0, 12 * 86400) for _ in range(n))
    rows = [Tx(f"bk-{run}-{i}", rng.choice(cards), round(rng.uniform(1, 900), 2), start + timedelta(seconds=t))
            for i, t in enumerate(times)]  # fmt: skip
    ref = testkit.reference_features(rows)
    begin = end_offsets(settings, settings.topic_agg)
    t0 = time.monotonic()
    testkit.produce(settings, rows)
    produced_s = time.monotonic() - t0
    wanted = {r.tid for r in rows}
    got: dict[str, tuple[int, dict]] = {}
    deadline = time.monotonic() + 600
    while len(got) < n and time.monotonic() < deadline:
        got = read_from(settings, settings.topic_agg, begin, wanted)
        if len(got) < n:
            time.sleep(1)
    total_s = time.monotonic() - t0
    exact = sum(
        1
        for r in rows
        if r.tid in got
        and (got[r.tid][1]["num_trans_last_10m"], got[r.tid][1]["avg_amt_last_10m"], got[r.tid][1]["max_amt_last_10m"])
        == ref[r.tid]
    )
    last_append = max(ts for ts, _ in got.values()) if got else None
    first_send = time.time() - total_s
    through_s = (last_append / 1000 - first_send) if last_append else total_s
    return {"transactions": n, "produced_s": round(produced_s, 2), "all_on_cc_agg_s": round(through_s, 2),
            "rate_tx_s": round(n / through_s, 1), "returned": len(got), "exact": exact}  # fmt: skip


def substeps(settings: Settings, cards: list[str]) -> dict[str, Any]:
    """The scorer hop's parts measured alone: one store read of 50 cards, one endpoint call of 50 rows."""
    import httpx

    from fraudstream.endpoint_client import endpoint_from_settings
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP

    store, endpoint = DynamoFeatureStore(settings), endpoint_from_settings(settings)
    width = len(httpx.get(f"{settings.endpoint_url}/model", timeout=10).json()["feature_names"])  # the served model's
    row = [12.5, 0.1, 0.2, 0.3, 2.0, 0.4][:width] + [0.5] * max(0, width - 6)
    reads, calls = [], []
    for _ in range(50):
        batch = random.sample(cards, 50)
        t = time.perf_counter()
        store.batch_get(batch, groups=(BATCH_GROUP,))
        reads.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        endpoint.predict([row] * 50)
        calls.append((time.perf_counter() - t) * 1000)
    return {"store_read_50_cards_ms": _stats(reads), "endpoint_call_50_rows_ms": _stats(calls)}


# ---------------------------------------------------------------------------------------- report
def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Per rate: send → prediction p50/p99, the median of each hop stacked, and p99 second by second."""
    with figure(path, 1, 3, figsize=(17, 4.5)) as (_, (ax1, ax2, ax3)):
        labels = [f"{r['rate_target']:,.0f}/s" for r in results]
        x = np.arange(len(results))
        ax1.bar(x - 0.2, [r["e2e_ms"]["p50"] or 0.0 for r in results], 0.4, label="p50")
        ax1.bar(x + 0.2, [r["e2e_ms"]["p99"] or 0.0 for r in results], 0.4, label="p99")
        ax1.set_xticks(x, labels)
        ax1.set_ylabel("send → prediction (ms)")
        ax1.set_title("end-to-end latency")
        ax1.legend()
        bottom = np.zeros(len(results))
        for hop in HOPS:
            vals = np.array([r["hops_ms"].get(hop, {}).get("p50") or 0.0 for r in results])
            ax2.bar(x, vals, 0.5, bottom=bottom, label=hop)
            bottom += vals
        ax2.set_xticks(x, labels)
        ax2.set_ylabel("median per hop (ms)")
        ax2.set_title("where the time goes (medians, stacked)")
        ax2.legend(fontsize=8)
        for r, label in zip(results, labels, strict=True):
            series = r.get("e2e_ms_per_second", [])
            ax3.plot([p["second"] for p in series], [p["p99"] for p in series], label=f"{label} p99")
        ax3.set_yscale("log")
        ax3.set_xlabel("second of the run (by send time)")
        ax3.set_ylabel("send → prediction p99 (ms)")
        ax3.set_title("over time: spikes (checkpoints, GC) show here")
        ax3.legend(fontsize=8)


def sustained_rates(results: list[dict[str, Any]]) -> list[float]:
    """The rates whose verdicts all came and drained within 2 s of the last send, and whose online
    store (the agg-writer) caught up within 5 s: lag bounded, not growing."""
    return [
        r["rate_target"]
        for r in results
        if r["missing"] == 0
        and r["drain_after_last_send_s"] < 2.0
        and r["agg_writer"]["caught_up_s_after_last_send"] is not None
        and r["agg_writer"]["caught_up_s_after_last_send"] < 5.0
    ]


def main() -> None:
    cli = parser(__doc__, None)  # default --out: results/latency[_PROFILE].json
    cli.add_argument("--rates", default="20,1000,3000", help="tx/s, comma-separated (default: %(default)s)")
    cli.add_argument("--seconds", type=float, default=30.0, help="measured seconds per rate (default: %(default)s)")
    cli.add_argument("--cards", type=int, default=2000, help="cards with a week of history (default: %(default)s)")
    cli.add_argument(
        "--warmup-seconds",
        type=float,
        default=5.0,
        help="unmeasured traffic before each rate's measurement (0 = none; default: %(default)s)",
    )
    cli.add_argument("--backlog", type=int, default=50_000, help="backlog size (0 = skip; default: %(default)s)")
    cli.add_argument("--model-dir", type=Path, default=None,
                     help="registry to serve (default: the settings', else a small model trained here)")  # fmt: skip
    cli.add_argument("--handler-profile", default=None,
                     help="batching profile of the handler runners (default: the settings'; e.g. lambda); "
                          "running handlers are restarted under it")  # fmt: skip
    args = cli.parse_args()
    machine = Machine()

    rng = random.Random()  # fresh cards every run: a card's history from an earlier run would make rows late
    if args.model_dir is None:
        settings = with_model(get_settings(), "bench-latency-models-")
    else:
        settings = get_settings().model_copy(update={"model_dir": args.model_dir})
    if args.handler_profile and args.handler_profile != settings.handler_profile:
        from fraudstream.demo.services import HANDLERS, handler_process

        settings = settings.model_copy(update={"handler_profile": args.handler_profile})
        for name in HANDLERS:  # running under another profile: restart them under this one
            handler_process(settings, name).stop()
    if args.out is None:
        suffix = "" if settings.handler_profile == "low-latency" else f"_{settings.handler_profile}"
        args.out = RESULTS / f"latency{suffix}.json"
    t = time.monotonic()
    started = start_pipeline(settings)
    print(f"pipeline ready in {time.monotonic() - t:.1f}s (started: {', '.join(started) or 'nothing'})")
    cards = seed_cards(settings, args.cards, rng)
    # warm-up, as in steady operation: every card once (the scorer caches its 1-week features until
    # the next nightly run), JIT, connections. The cold start is reported on its own.
    cold = run_rate(settings, 500, 0, cards, rng, card_order=cards)
    print("cold start (every card's first transaction)", json.dumps(cold["e2e_ms"]))
    results = []
    for rate in [float(r) for r in args.rates.split(",") if r]:
        load = LoadSpan()
        res = run_rate(settings, rate, args.seconds, cards, rng, warmup_s=args.warmup_seconds)
        res.update(load.keys())  # the load around this rate: its figures move with it
        res.pop("sent_rows")
        results.append(res)
        print(json.dumps(res))
    backlog = backlog_rate(settings, args.backlog, random.Random()) if args.backlog else None
    if backlog:
        print("backlog", json.dumps(backlog))
    sustained = sustained_rates(results)
    out = {
        "benchmark": "latency",
        "handler_profile": settings.handler_profile,
        "clock_interval_ms": settings.clock_interval_ms,
        "seconds_per_rate": args.seconds,
        "cards": args.cards,
        "rates": results,
        "highest_rate_sustained": max(sustained) if sustained else None,
        "backlog": backlog,
        "cold_start_every_card_once_at_500_per_s": {k: cold[k] for k in ("e2e_ms", "hops_ms", "missing")},
        "scorer_substeps": substeps(settings, cards),
        "machine": machine.block(),
    }
    png = write_report(args.out, out, plot=lambda path: plot(results, path))
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
