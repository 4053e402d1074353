"""Chaos on the full local pipeline: kill -9 the fraud-scorer, the endpoint and the TaskManager under
steady live traffic, and lose nothing.

One module-scoped pipeline (topics and tables of its own, the Flink job, an in-process stream clock,
the endpoint and both handler runners as the stack's managed processes) runs under the stack's real
supervisor (``fraudstream stack supervise`` on the session's state dir: it restarts the runners, the
endpoint and the session's TaskManager as it would on ``stack up``). Steady traffic at ``RATE`` tx/s
runs for ``SECONDS`` while the faults are injected in turn, by the same code as
``benchmarks/bench_chaos.py`` (``fraudstream.stack.faults``); the result is checked by the same
code too (``fraudstream.testing.chaos``): every transaction has a prediction, a duplicate is an
identical copy (only ``scored_at`` differs), and every copy's 10-minute features equal an offline
recount of what was sent.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fraudstream.settings import Settings
from fraudstream.testing.chaos import DeliveryCheck

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE = 150.0
SECONDS = 66.0
CARDS = 300
FAULTS = (("fraud-scorer", 8.0), ("endpoint", 24.0), ("flink-taskmanager", 40.0))
"""Each fault and when it is injected (seconds into the traffic): the TaskManager last, as its
recovery (heartbeat timeout, job restart from the checkpoint) is the longest."""
DRAIN_S = 150.0


@dataclass
class ChaosRun:
    check: DeliveryCheck
    windows: dict[str, dict[str, int]]
    killed: dict[str, int | None]
    restarts: dict[str, int]
    unflushed: int
    seconds: float


@pytest.fixture(scope="module")
def chaos_settings(
    settings: Settings, kafka_bootstrap: str, dynamodb_endpoint: str, flink_rest: str, trained_model_dir: Path
) -> Iterator[Settings]:
    """This module's pipeline: job, clock, endpoint and runners, all under the stack's supervisor."""
    from fraudstream.demo.services import HANDLERS, endpoint_process, handler_process
    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.kafka_clients import ensure_topics
    from fraudstream.stack.faults import injectable
    from fraudstream.stack.ports import free_ports
    from fraudstream.stack.supervisor import ensure_supervisor, stop_supervisor
    from fraudstream.streaming.clock import StreamClock
    from fraudstream.streaming.submit import stop_job, submit_job
    from fraudstream.testing.engines import isolated_copy

    if not injectable(settings, "flink-taskmanager"):
        pytest.skip("the Flink cluster is external: this session cannot kill its TaskManager")
    (endpoint_port,) = free_ports(1)
    s = isolated_copy(
        settings, f"chaos-{uuid.uuid4().hex[:8]}", model_dir=trained_model_dir, endpoint_port=endpoint_port
    )
    ensure_topics(s)
    ensure_tables(s)
    clock = StreamClock(s).start()
    submit_job(s)
    services = [endpoint_process(s), *(handler_process(s, name) for name in HANDLERS)]
    try:
        for proc in services:
            proc.start()
        for proc in services:
            proc.wait_ready(timeout=120)
        ensure_supervisor(s)
        yield s
    finally:
        stop_supervisor(s)  # first: nothing is restarted while the rest stops
        for proc in reversed(services):
            proc.stop()
        stop_job(s)
        clock.stop()


@pytest.fixture(scope="module")
def chaos_run(chaos_settings: Settings) -> ChaosRun:
    """Steady traffic with each fault injected in turn, then every prediction collected (or the drain ends)."""
    from fraudstream.stack.faults import inject
    from fraudstream.stack.supervisor import read_health
    from fraudstream.testing.chaos import CopyCollector, SteadyTraffic, check_delivery, fresh_cards
    from fraudstream.waiting import wait_until

    s = chaos_settings
    began = time.monotonic()
    rng = random.Random(13)
    traffic = SteadyTraffic(s, fresh_cards(CARDS, rng), RATE, int(RATE * SECONDS), f"chaos-{uuid.uuid4().hex[:6]}", 13)
    collector = CopyCollector(s, traffic.tids).start()
    killed: dict[str, int | None] = {}
    injected_at: list[tuple[str, float]] = []

    def chaos() -> None:
        for fault, at in FAULTS:
            time.sleep(max(0.0, traffic.started_at + at - time.time()))
            injected_at.append((fault, time.time()))
            killed[fault] = inject(s, fault)

    traffic.start()
    wait_until(lambda: traffic.started_at > 0, 30, "traffic to start", interval=0.05)
    faults = threading.Thread(target=chaos, daemon=True)
    faults.start()
    traffic.join()
    faults.join()
    with contextlib.suppress(TimeoutError):  # the assertions below say what is missing
        wait_until(collector.complete, DRAIN_S, "every prediction", interval=0.5)
    collector.stop()
    _, copies = collector.snapshot()
    check = check_delivery(traffic.rows, copies)
    bounds = [("none (before the faults)", traffic.started_at), *injected_at, ("end", float("inf"))]
    windows = {
        name: check.count(t for t, sent in traffic.sent_at.items() if at <= sent < bounds[i + 1][1])
        for i, (name, at) in enumerate(bounds[:-1])
    }
    restarts = {name: h.restarts for name, h in read_health(s).items()}
    run = ChaosRun(check, windows, killed, restarts, traffic.unflushed, round(time.monotonic() - began, 1))
    print(f"chaos run: {run.seconds} s, copies {check.copies}, per fault {windows}")  # shown with -s
    return run


def test_each_fault_killed_its_process_and_the_supervisor_brought_it_back(chaos_run: ChaosRun) -> None:
    for fault, _ in FAULTS:
        assert chaos_run.killed.get(fault), f"{fault} was not running when its fault was due"
        assert chaos_run.restarts.get(fault, 0) >= 1, (fault, chaos_run.restarts)


def test_no_transaction_is_missing_its_prediction(chaos_run: ChaosRun) -> None:
    assert chaos_run.unflushed == 0
    assert chaos_run.check.missing == set(), chaos_run.windows
    for fault, window in chaos_run.windows.items():
        assert window["sent"] > 0 and window["predicted"] == window["sent"], (fault, window)


def test_duplicates_are_only_identical_copies(chaos_run: ChaosRun) -> None:
    assert chaos_run.check.duplicates_differing == set(), chaos_run.windows


def test_features_equal_an_offline_recount(chaos_run: ChaosRun) -> None:
    wrong = sorted(chaos_run.check.features_wrong)
    assert wrong == [], f"{len(wrong)} predictions with wrong 10-minute features, e.g. {wrong[:5]}"
