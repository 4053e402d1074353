"""What the benchmarks that drive the whole live local pipeline share (latency, recovery, chaos, soak):
starting it, seeding cards with a week of history, sending paced live traffic, and watching its
processes (pids, CPU, resident memory) and its handlers' consumer lag.

Each of these benchmarks uses the stack of the current settings: run it with a state dir and ports
of its own (``make soak`` and ``make chaos`` do) when someone else may be using the default stack.
Scripts import this as ``from _live import ...`` (``benchmarks/`` is first on ``sys.path``).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

import psutil

from fraudstream.settings import Settings


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
    store.mark_batch_version("bench seeded cards")
    return cards


def send_live(producer: Any, settings: Settings, due: float, tid: str, card: str, amount: float) -> tuple[Any, float]:
    """One transaction of a paced run, sent at ``due`` (``time.monotonic()``) with event time = now.

    Waits for its due time serving delivery reports (``poll_for``: no busy loop), then hands the
    record to the client, waiting for room if its queue is full. Returns the transaction and its send
    time (``time.time()`` right before ``produce``: the benchmark's own work is before it)."""
    from fraudstream.kafka_clients import poll_for, produce_waiting
    from fraudstream.messages import Transaction, encode

    while (wait := due - time.monotonic()) > 0:
        poll_for(producer, min(wait, 0.005))
    tx = Transaction(tid=tid, cc_num=card, amount=amount, trans_time=datetime.now(UTC))
    key, value = card.encode(), encode(tx)
    sent_at = time.time()
    produce_waiting(producer, settings.topic_transactions, value, key)
    producer.poll(0)
    return tx, sent_at


# ---------------------------------------------------------------------------------------- processes
def pipeline_pids(settings: Settings) -> dict[str, int]:
    """The pid of every pipeline process (engines, clock, endpoint, handlers, and the lake archiver,
    monitor and supervisor beside the path) and of this benchmark."""
    import os

    from fraudstream.demo.services import demo_processes
    from fraudstream.stack.clock import clock_process
    from fraudstream.stack.lake import archiver_process
    from fraudstream.stack.manager import ENGINES
    from fraudstream.stack.monitor import monitor_process
    from fraudstream.stack.supervisor import supervisor_process

    procs = [p for engine in ENGINES.values() for p in engine.processes(settings)]
    procs += [clock_process(settings), *demo_processes(settings)]
    # without these three their CPU was counted as the benchmark's (it started them)
    procs += [archiver_process(settings), monitor_process(settings), supervisor_process(settings)]
    pids = {p.name: pid for p in procs if (pid := p.running_pid())}
    pids["benchmark"] = os.getpid()
    return pids


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds of each process and its descendants, but not of those in ``pids`` and
    theirs: the processes this benchmark started are its children and are counted on their own."""
    exclude = set(pids.values())
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        children.setdefault(proc.info["ppid"], []).append(proc.pid)
    out = {}
    for name, pid in pids.items():
        total, todo = 0.0, [pid]
        while todo:
            p = todo.pop()
            try:
                times = psutil.Process(p).cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
            todo.extend(c for c in children.get(p, []) if c not in exclude)
        out[name] = total
    return out


class CpuMeter:
    """CPU used by each pipeline process over an interval, in cores (1.0 = one core busy throughout):
    on a 2-core box this is where the latency budget goes."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.t0 = time.monotonic()
        self.start = cpu_seconds(pids)

    def cores(self) -> dict[str, float]:
        elapsed = max(1e-9, time.monotonic() - self.t0)
        now = cpu_seconds(self.pids)
        used = {name: (now[name] - self.start[name]) / elapsed for name in self.pids}
        used["all"] = sum(used.values())
        return {k: round(v, 2) for k, v in used.items()}


def rss_mib(pid: int) -> float | None:
    """Resident memory of the process itself (not its children), or None when it is gone."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return None


# ---------------------------------------------------------------------------------------- lag
def group_lag(settings: Settings, group_id: str, topic: str) -> int:
    """Records on ``topic`` not yet committed by consumer group ``group_id`` (summed over partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.streaming.testkit import end_offsets

    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        ends = end_offsets(settings, topic)
        committed = c.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        return sum(max(0, ends[tp.partition] - max(tp.offset, 0)) for tp in committed)
    finally:
        c.close()


def handler_lag(settings: Settings, name: str) -> int:
    """Records on ``cc-agg`` not yet committed by handler ``name`` (``agg-writer``, ``fraud-scorer``)."""
    from fraudstream.handlers.runner import group_id_for

    return group_lag(settings, group_id_for(name, settings), settings.topic_agg)
