"""Helpers to drive the cc-agg job from tests, the parity check and the benchmark.

A plain-Python reference of the 10-minute window (the definition in :mod:`fraudstream.features`,
computed with exact decimal sums like the SQL), a running job with its own topics and stream clock,
and Kafka helpers: produce transactions to chosen partitions, read a topic back.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fraudstream import features
from fraudstream.messages import Transaction, encode
from fraudstream.settings import Settings
from fraudstream.waiting import wait_until

FLUSH_CARD = "0000000000000000"
"""Card number of the flush records of ``flush_rows`` (ignore it in results)."""


@dataclass(frozen=True)
class Tx:
    """A transaction to send: ``partition`` None means "by key" (the producer's partitioner)."""

    tid: str
    cc_num: str
    amount: float
    trans_time: datetime
    partition: int | None = None
    merchant: str | None = None

    def encode(self) -> bytes:
        return encode(
            Transaction(
                tid=self.tid, cc_num=self.cc_num, amount=self.amount, trans_time=self.trans_time, merchant=self.merchant
            )
        )


def reference_features(rows: Iterable[Tx]) -> dict[str, tuple[int, float, float]]:
    """tid -> (num_trans_last_10m, avg_amt_last_10m, max_amt_last_10m) by the shared definition.

    Window [t - 10 min, t] of the card (times at the wire's millisecond precision), rows with the
    same time included (SQL RANGE peers);
    amounts rounded to cents as DECIMAL(12, 2), sums exact, mean = float(sum) / count.
    """
    by_card: dict[str, list[tuple[datetime, Decimal, str]]] = defaultdict(list)
    for r in rows:
        cents = Decimal(repr(float(r.amount))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        at = r.trans_time.replace(microsecond=r.trans_time.microsecond - r.trans_time.microsecond % 1000)
        by_card[r.cc_num].append((at, cents, r.tid))  # the wire carries milliseconds: that is the time
    out: dict[str, tuple[int, float, float]] = {}
    for items in by_card.values():
        items.sort(key=lambda x: x[0])
        times = [t for t, _, _ in items]
        lo = 0
        for i, (t, _, tid) in enumerate(items):
            while times[lo] < t - features.STREAM_WINDOW:
                lo += 1
            hi = i
            while hi + 1 < len(items) and times[hi + 1] == t:
                hi += 1
            window = [a for _, a, _ in items[lo : hi + 1]]
            out[tid] = (len(window), float(sum(window)) / len(window), float(max(window)))
    return out


def job_settings(settings: Settings, name: str, **updates: Any) -> Settings:
    """``settings`` with fresh transactions/cc-agg/dead-letter topics for one job run (created here)."""
    from fraudstream.kafka_clients import ensure_topics

    suffix = f"{name}-{uuid.uuid4().hex[:8]}"
    run = settings.model_copy(
        update={
            "topic_transactions": f"tx-{suffix}",
            "topic_agg": f"agg-{suffix}",
            "topic_dead_letter": f"dl-{suffix}",
            "topic_predictions": f"pred-{suffix}",
            **updates,
        }
    )
    ensure_topics(run, topics=(run.topic_transactions, run.topic_agg, run.topic_dead_letter, run.topic_predictions))
    return run


@contextlib.contextmanager
def running_job(run: Settings, clock_interval_ms: int = 20) -> Any:
    """The cc-agg job on ``run``'s topics with a stream clock beating on them; stopped afterwards."""
    from fraudstream.streaming.clock import StreamClock
    from fraudstream.streaming.submit import stop_job, submit_job

    with StreamClock(run, interval_ms=clock_interval_ms) as clock:
        job_id = submit_job(run)
        try:
            yield job_id, clock
        finally:
            with contextlib.suppress(Exception):
                stop_job(run)


def producer(settings: Settings) -> Any:
    from fraudstream.kafka_clients import connected_producer

    return connected_producer(settings, **{"linger.ms": 20})


def produce(settings: Settings, rows: Sequence[Tx], topic: str | None = None) -> None:
    """Send ``rows`` in order (key cc_num) and wait until all are acknowledged."""
    p = producer(settings)
    topic = topic or settings.topic_transactions
    for r in rows:
        kwargs = {"partition": r.partition} if r.partition is not None else {}
        p.produce(topic, key=r.cc_num.encode(), value=r.encode(), **kwargs)
        p.poll(0)
    if p.flush(30) != 0:
        raise RuntimeError("records were not acknowledged by Kafka within 30 s")


def produce_raw(settings: Settings, values: Sequence[bytes | None], partition: int = 0) -> None:
    """Send raw values (malformed records) to one partition."""
    p = producer(settings)
    for value in values:
        p.produce(settings.topic_transactions, key=b"raw", value=value, partition=partition)
    p.flush(30)


def flush_rows(settings: Settings, at: datetime) -> list[Tx]:
    """One record per partition at ``at``: moves the job's arrival watermark on every partition once,
    for a run without a stream clock (a benchmark's end of backlog)."""
    stamp = at.strftime("%Y%m%dT%H%M%S")
    return [Tx(f"flush-{stamp}-{p}", FLUSH_CARD, 1.0, at, partition=p) for p in range(settings.partitions)]


def end_offsets(settings: Settings, topic: str | None = None) -> dict[int, int]:
    """The log-end offset of every partition."""
    from confluent_kafka import Consumer, TopicPartition

    topic = topic or settings.topic_transactions
    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"testkit-{uuid.uuid4().hex[:8]}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(settings.partitions)}
    finally:
        c.close()


def consume(
    settings: Settings,
    topic: str,
    until: Any,
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the start until ``until(records)`` is true; records carry key/partition/offset.

    Raises ``TimeoutError`` (with what was read) when the condition is not met in time.
    """
    from confluent_kafka import Consumer

    from fraudstream.kafka_clients import consumer_config

    c = Consumer(consumer_config(f"testkit-{uuid.uuid4().hex[:8]}", settings))
    c.subscribe([topic])
    records: list[dict[str, Any]] = []

    def met() -> bool:
        if until(records):
            return True
        for msg in c.consume(500, 0.5):  # waits up to 0.5 s: no sleep between polls
            if msg.error():
                continue
            value = json.loads(msg.value()) if msg.value() else None
            records.append(
                {
                    "key": msg.key().decode() if msg.key() else None,
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "value": value,
                    "timestamp_ms": msg.timestamp()[1],
                }
            )
        return False

    try:
        wait_until(met, timeout, f"{topic} to meet the condition", interval=0)
    except TimeoutError:
        raise TimeoutError(f"{topic}: condition not met after {timeout:.0f} s; read {len(records)} records") from None
    finally:
        c.close()
    return records


def has_tids(tids: Iterable[str]) -> Any:
    """``until`` predicate: every tid in ``tids`` has at least one record."""
    wanted = set(tids)

    def check(records: list[dict[str, Any]]) -> bool:
        seen = {r["value"].get("tid") for r in records if r["value"]}
        return wanted <= seen

    return check


def by_tid(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["value"] and r["value"].get("tid"):
            out[r["value"]["tid"]].append(r["value"])
    return out


def seed_example(base: datetime, cc_num: str = "4444333322221248") -> list[Tx]:
    """The seed article's card ...1248: 22:01:00 50.00, 22:03:59 200.00, 22:04:28 50.00, 22:05:05 500.00."""
    day = base.replace(hour=22, minute=0, second=0, microsecond=0)
    steps = [(timedelta(minutes=1), 50.0), (timedelta(minutes=3, seconds=59), 200.0)]
    steps += [(timedelta(minutes=4, seconds=28), 50.0), (timedelta(minutes=5, seconds=5), 500.0)]
    return [Tx(f"seed-{i + 1}", cc_num, amt, day + off) for i, (off, amt) in enumerate(steps)]
