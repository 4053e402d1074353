"""What a chaos run sends, what it gets back, and the check it must pass.

Shared by ``benchmarks/bench_chaos.py`` and the chaos integration tests (``tests/chaos``): steady
paced traffic on ``transactions``, a collector that keeps *every* copy of each prediction (the
pipeline is at-least-once, so a restart may deliver one twice), and a pure check of the result:
missing predictions, duplicates that are identical copies (allowed, docs/streaming.md) or that
differ (never allowed), and 10-minute features that differ from an offline recomputation.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fraudstream.replay.runner import PredictionCollector
from fraudstream.settings import Settings
from fraudstream.streaming.testkit import Tx, reference_features

PER_DELIVERY_FIELDS = frozenset({"scored_at"})
"""Fields a redelivered prediction may change: the scorer stamps when it scored; all else must be equal."""

FEATURE_FIELDS = ("num_trans_last_10m", "avg_amt_last_10m", "max_amt_last_10m")


class CopyCollector(PredictionCollector):
    """A :class:`PredictionCollector` that also keeps every copy of each wanted prediction."""

    def __init__(self, settings: Settings, wanted: Iterable[str]) -> None:
        super().__init__(settings, wanted)
        self.copies: dict[str, list[dict[str, Any]]] = {}

    def keep(self, tid: str, record: dict[str, Any], received_at: float) -> None:
        super().keep(tid, record, received_at)
        self.copies.setdefault(tid, []).append(record)

    def snapshot(self) -> tuple[dict[str, tuple[dict[str, Any], float]], dict[str, list[dict[str, Any]]]]:
        """First copy with its receive time per tid, and every copy per tid (copied under the lock)."""
        with self._lock:
            return dict(self.received), {t: list(c) for t, c in self.copies.items()}


class SteadyTraffic(threading.Thread):
    """``n`` transactions at ``rate``/s on random ``cards`` (trans_time = now), sent from a thread.

    A record that meets a dead broker waits in the producer's queue (``flush`` at the end allows
    ``flush_s``), so a Kafka fault delays it rather than losing it.
    """

    def __init__(
        self, settings: Settings, cards: Sequence[str], rate: float, n: int, prefix: str, seed: int | None = None
    ) -> None:
        super().__init__(name="steady-traffic", daemon=True)
        self.settings = settings
        self.cards = list(cards)
        self.rate = rate
        self.tids = [f"{prefix}-{i:07d}" for i in range(n)]
        self.rng = random.Random(seed)
        self.rows: list[Tx] = []
        self.sent_at: dict[str, float] = {}
        self.started_at = 0.0
        self.unflushed = 0
        self.flush_s = 120.0

    def run(self) -> None:
        from fraudstream.kafka_clients import connected_producer, poll_for, produce_waiting

        producer = connected_producer(self.settings, **{"linger.ms": 0})
        topic = self.settings.topic_transactions
        self.started_at = time.time()
        t0 = time.monotonic()
        for i, tid in enumerate(self.tids):
            due = t0 + i / self.rate
            while (wait := due - time.monotonic()) > 0:
                poll_for(producer, min(wait, 0.005))
            card = self.rng.choice(self.cards)
            tx = Tx(tid, card, round(self.rng.uniform(1, 500), 2), datetime.now(UTC))
            self.rows.append(tx)
            self.sent_at[tid] = time.time()
            produce_waiting(producer, topic, tx.encode(), card.encode())
            producer.poll(0)
        self.unflushed = producer.flush(self.flush_s)


def fresh_cards(n: int, rng: random.Random, first_digit: str = "6") -> list[str]:
    """``n`` random 16-digit card numbers (no history anywhere: every feature comes from this run)."""
    return [f"{first_digit}{rng.randrange(10**15):015d}" for _ in range(n)]


def features_of(prediction: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(prediction.get(name) for name in FEATURE_FIELDS)


def same_verdict(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two copies of one prediction are identical but for the per-delivery fields."""
    keys = (set(a) | set(b)) - PER_DELIVERY_FIELDS
    return all(a.get(k) == b.get(k) for k in keys)


@dataclass
class DeliveryCheck:
    """Per-tid outcome sets of a run; ``count`` restricts them to a subset (one fault's window)."""

    sent: set[str]
    missing: set[str] = field(default_factory=set)
    duplicates_identical: set[str] = field(default_factory=set)
    duplicates_differing: set[str] = field(default_factory=set)
    features_wrong: set[str] = field(default_factory=set)
    copies: int = 0

    def count(self, tids: Iterable[str] | None = None) -> dict[str, int]:
        """Counts over ``tids`` (all sent when None): sent, predicted, missing, both kinds of duplicate, wrong."""
        scope = self.sent if tids is None else set(tids) & self.sent
        missing = len(scope & self.missing)
        return {
            "sent": len(scope),
            "predicted": len(scope) - missing,
            "missing": missing,
            "duplicates_identical": len(scope & self.duplicates_identical),
            "duplicates_differing": len(scope & self.duplicates_differing),
            "features_wrong": len(scope & self.features_wrong),
        }

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates_differing or self.features_wrong)


def check_delivery(
    rows: Sequence[Tx],
    copies: dict[str, list[dict[str, Any]]],
    history: Sequence[Tx] = (),
) -> DeliveryCheck:
    """Check every sent row against the copies received for it.

    ``history``: rows sent earlier on the same cards (a warm-up), which count in the windows but are
    not checked themselves. Features: the 10-minute window recomputed offline by
    :func:`fraudstream.streaming.testkit.reference_features`; a tid is wrong when any copy differs.
    """
    expected = reference_features([*history, *rows])
    check = DeliveryCheck(sent={r.tid for r in rows})
    for row in rows:
        got = copies.get(row.tid) or []
        check.copies += len(got)
        if not got:
            check.missing.add(row.tid)
            continue
        if len(got) > 1:
            identical = all(same_verdict(got[0], other) for other in got[1:])
            (check.duplicates_identical if identical else check.duplicates_differing).add(row.tid)
        if any(features_of(copy) != expected[row.tid] for copy in got):
            check.features_wrong.add(row.tid)
    return check
