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
machine's load average before the rate: figures from a loaded box say so.
Writes ``benchmarks/results/latency.json`` and ``latency.png``.

    .venv/bin/python benchmarks/bench_latency.py [--rates 20,1000,3000] [--seconds 30] [--warmup-seconds 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from bench_scorer import tiny_model

from fraudstream.settings import Settings, get_settings
from fraudstream.streaming.testkit import end_offsets

RESULTS = Path(__file__).resolve().parent / "results"
HOPS = ("kafka_in", "flink", "scorer", "predictions_out", "read_back")


# ---------------------------------------------------------------------------------------- setup
def start_pipeline(settings: Settings) -> list[str]:
    """Stack (with clock), job, endpoint and handler runners; returns what this call started."""
    from fraudstream.demo.services import HANDLERS, endpoint_process, handler_process
    from fraudstream.stack.manager import Stack
    from fraudstream.streaming.submit import submit_job

    started = Stack(settings).up().started
    submit_job(settings)
    procs = [endpoint_process(settings), *(handler_process(settings, n) for n in HANDLERS)]
    for proc in procs:
        if proc.running_pid() is None:
            proc.start()
            started.append(proc.name)
    for proc in procs:
        proc.wait_ready(timeout=120)
    return started


def seed_cards(settings: Settings, n: int, rng: random.Random) -> list[str]:
    """``n`` fresh cards with a week of history in ``cc-agg-batch-fg``."""
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP
    from fraudstream.messages import format_time

    cards = [f"7{rng.randrange(10**15):015d}" for _ in range(n)]
    as_of = format_time(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    store = DynamoFeatureStore(settings)
    records = [
        {"cc_num": c, "num_trans_last_1w": rng.randint(5, 60), "avg_amt_last_1w": round(rng.uniform(20, 900), 2),
         "as_of": as_of} for c in cards
    ]  # fmt: skip
    store.put_many(BATCH_GROUP, records)
    mark = getattr(store, "mark_batch_version", None)
    if mark is not None:
        mark("bench_latency seeded cards")
    return cards


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


def group_lag(settings: Settings, group_id: str, topic: str) -> int:
    """Records on ``topic`` not yet committed by consumer group ``group_id`` (summed over partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        ends = end_offsets(settings, topic)
        committed = c.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        return sum(max(0, ends[tp.partition] - max(tp.offset, 0)) for tp in committed)
    finally:
        c.close()


class LagSampler:
    """The agg-writer's lag on ``cc-agg`` every ``every_s`` in a thread, while a rate runs: does it grow?"""

    def __init__(self, settings: Settings, every_s: float = 2.0) -> None:
        from fraudstream.handlers.runner import group_id_for

        self.settings, self.every_s = settings, every_s
        self.group = group_id_for("agg-writer", settings)
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.samples.append(group_lag(self.settings, self.group, self.settings.topic_agg))
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
    from fraudstream.handlers.runner import group_id_for

    group = group_id_for("agg-writer", settings)
    lag = group_lag(settings, group, settings.topic_agg)
    deadline = time.monotonic() + timeout
    left = lag
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = group_lag(settings, group, settings.topic_agg)
    return {"lag_at_drain": lag, "caught_up_s_after_last_send": None if left else round(time.monotonic() - since, 2)}


# ---------------------------------------------------------------------------------------- CPU
def pipeline_pids(settings: Settings) -> dict[str, int]:
    """The pid of every pipeline process (engines, clock, endpoint, handlers) and this benchmark."""
    from fraudstream.demo.services import demo_processes
    from fraudstream.stack.clock import clock_process
    from fraudstream.stack.manager import ENGINES

    procs = [p for engine in ENGINES.values() for p in engine.processes(settings)]
    procs += [clock_process(settings), *demo_processes(settings), *_beside_path(settings)]
    pids = {p.name: pid for p in procs if (pid := p.running_pid())}
    pids["benchmark"] = os.getpid()
    return pids


def _beside_path(settings: Settings) -> list[Any]:
    """The stack's other services (lake archiver, monitor, supervisor): without them their CPU was
    counted as the benchmark's, since the benchmark started them."""
    from fraudstream.stack.lake import archiver_process
    from fraudstream.stack.monitor import monitor_process
    from fraudstream.stack.supervisor import supervisor_process

    return [archiver_process(settings), monitor_process(settings), supervisor_process(settings)]


def _cpu_ticks(pid: int, exclude: frozenset[int] = frozenset()) -> int:
    """utime + stime of ``pid`` and its descendants (but not those in ``exclude`` and theirs: the
    processes this benchmark started are its children and are counted on their own), in clock ticks."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        todo.extend(c for c in children.get(p, []) if c not in exclude)
    return total


class CpuMeter:
    """CPU used by each pipeline process over an interval, in cores (1.0 = one core busy throughout):
    on a 2-core box this is where the latency budget goes."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.hz = os.sysconf("SC_CLK_TCK")
        self.t0 = time.monotonic()
        self.exclude = frozenset(pids.values())
        self.start = {name: _cpu_ticks(pid, self.exclude) for name, pid in pids.items()}

    def cores(self) -> dict[str, float]:
        elapsed = max(1e-9, time.monotonic() - self.t0)
        used = {
            name: (_cpu_ticks(pid, self.exclude) - self.start[name]) / self.hz / elapsed
            for name, pid in self.pids.items()
        }
        used["all"] = sum(used.values())
        return {k: round(v, 2) for k, v in used.items()}


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
    from fraudstream.kafka_clients import connected_producer, poll_for
    from fraudstream.messages import Transaction, encode, parse_time
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
        due = t0 + i / rate
        while (wait := due - time.monotonic()) > 0:
            poll_for(producer, min(wait, 0.005))
        card = card_order[i] if card_order else rng.choice(cards)
        tx = Transaction(tid=tid, cc_num=card, amount=round(rng.uniform(1, 500), 2), trans_time=datetime.now(UTC))
        key, value = card.encode(), encode(tx)
        if i >= n_warm:
            sent_rows.append((tid, card, tx.amount, tx.trans_time))
            sent_at[tid] = time.time()  # "send" = handed to the Kafka client: the benchmark's own work is before it
        while True:
            try:
                producer.produce(settings.topic_transactions, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    send_s = time.monotonic() - t_measured
    cpu = meter.cores()
    sampler.__exit__()
    producer.flush(30)
    deadline = time.monotonic() + 60
    while not collector.complete() and time.monotonic() < deadline:
        time.sleep(0.05)
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
    arr = np.array(e2e) if e2e else np.array([np.nan])
    return {
        "rate_target": rate,
        "warmup_s_unmeasured": warmup_s if n_warm else 0.0,
        "rate_sent": round(n / send_s, 1),
        "transactions": n,
        "predicted": len(received),
        "missing": n - len(received),
        "drain_after_last_send_s": round(drain_s, 2),
        "agg_writer": agg_writer,
        "e2e_ms": {"p50": _r(np.percentile(arr, 50)), "p99": _r(np.percentile(arr, 99)), "max": _r(arr.max())},
        # send → the prediction appended to `predictions` (its broker time): what any reader can have it by,
        # without the benchmark's own reading (its consumer shares a Python process with the paced sender)
        "e2e_to_topic_ms": _stats(on_topic),
        "hops_ms": {h: _stats(v) for h, v in hops.items()},
        # send → prediction by the second it was sent in: a periodic spike (checkpoint, GC) shows here
        "e2e_ms_per_second": [{"second": sec, **_stats(v)} for sec, v in sorted(by_second.items())],
        "cpu_cores_while_sending": cpu,
        "sent_rows": sent_rows,  # (tid, cc_num, amount, trans_time): for an offline recomputation
    }


def _r(x: float) -> float:
    return round(float(x), 1)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    a = np.array(values)
    return {"p50": _r(np.percentile(a, 50)), "p99": _r(np.percentile(a, 99)), "max": _r(a.max())}


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
def write_png(path: Path, results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 4.5))
    labels = [f"{r['rate_target']:,.0f}/s" for r in results]
    x = np.arange(len(results))
    ax1.bar(x - 0.2, [r["e2e_ms"]["p50"] for r in results], 0.4, label="p50")
    ax1.bar(x + 0.2, [r["e2e_ms"]["p99"] for r in results], 0.4, label="p99")
    ax1.set_xticks(x, labels)
    ax1.set_ylabel("send → prediction (ms)")
    ax1.set_title("end-to-end latency")
    ax1.legend()
    bottom = np.zeros(len(results))
    for hop in HOPS:
        vals = np.array([r["hops_ms"].get(hop, {}).get("p50", 0.0) for r in results])
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="20,1000,3000")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--warmup-seconds", type=float, default=5.0,
                        help="unmeasured traffic at each rate before its measurement (0 = none)")  # fmt: skip
    parser.add_argument("--backlog", type=int, default=50_000, help="backlog size (0 = skip)")
    parser.add_argument("--model-dir", type=Path, default=None, help="registry to serve (default: a small model)")
    parser.add_argument("--handler-profile", default=None,
                        help="batching profile of the handler runners (default: the settings'; e.g. lambda); "
                             "running handlers are restarted under it")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="default: results/latency[_PROFILE].json")
    args = parser.parse_args()

    rng = random.Random()  # fresh cards every run: a card's history from an earlier run would make rows late
    model_dir = args.model_dir
    if model_dir is None and not (get_settings().model_dir / "latest").exists():
        model_dir = Path(tempfile.mkdtemp(prefix="bench-latency-models-"))
        tiny_model(model_dir)
    settings = get_settings() if model_dir is None else get_settings().model_copy(update={"model_dir": model_dir})
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
        load = os.getloadavg()[0]
        res = run_rate(settings, rate, args.seconds, cards, rng, warmup_s=args.warmup_seconds)
        res["load_avg_1m_before"] = round(load, 2)
        res.pop("sent_rows")
        results.append(res)
        print(json.dumps(res))
    backlog = backlog_rate(settings, args.backlog, random.Random()) if args.backlog else None
    if backlog:
        print("backlog", json.dumps(backlog))
    sustained = [
        r["rate_target"]
        for r in results
        if r["missing"] == 0
        and r["drain_after_last_send_s"] < 2.0
        and r["agg_writer"]["caught_up_s_after_last_send"] is not None
        and r["agg_writer"]["caught_up_s_after_last_send"] < 5.0
    ]  # the verdicts drained within 2 s and the online store within 5 s: lag bounded, not growing
    out = {
        "benchmark": "latency",
        "measured_at": datetime.now(UTC).isoformat(),
        "handler_profile": settings.handler_profile,
        "clock_interval_ms": settings.clock_interval_ms,
        "seconds_per_rate": args.seconds,
        "cards": args.cards,
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_end": round(os.getloadavg()[0], 2)},
        "rates": results,
        "highest_rate_sustained": max(sustained) if sustained else None,
        "backlog": backlog,
        "cold_start_every_card_once_at_500_per_s": {k: cold[k] for k in ("e2e_ms", "hops_ms", "missing")},
        "scorer_substeps": substeps(settings, cards),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    write_png(args.out.with_suffix(".png"), results)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
