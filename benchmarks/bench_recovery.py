"""Benchmark: ``kill -9`` the Flink TaskManager under steady live traffic; nothing may be lost or wrong.

Sends ``--rate`` tx/s (default 1,000) for ``--seconds`` on fresh cards through the whole local
pipeline (as ``bench_latency.py``), SIGKILLs the TaskManager at ``--kill-at`` seconds and starts
it again ``--restart-after`` seconds later (the local stack does not supervise it yet). The job
restarts from its last checkpoint and re-reads from the checkpointed offsets.

Reports: transactions sent, predictions received, missing (must be 0), tids with more than one
prediction and whether the copies agree on every feature, predictions whose 10-minute features
differ from an offline recomputation of the same transactions (must be 0), the recovery time (kill
→ the first prediction of a transaction sent after the kill), and the latency p50/p99 before,
during and after the fault. Writes ``benchmarks/results/recovery.json`` and ``recovery.png``.

    .venv/bin/python benchmarks/bench_recovery.py [--rate 1000] [--seconds 60] [--kill-at 20] [--out FILE.json]
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from _common import Machine, figure, parser, percentiles, write_report
from _live import seed_cards, send_live, start_pipeline
from bench_latency import run_rate
from bench_scorer import with_model

from fraudstream.settings import get_settings


def main() -> None:
    cli = parser(__doc__, "recovery.json")
    cli.add_argument("--rate", type=float, default=1000.0)
    cli.add_argument("--seconds", type=float, default=60.0)
    cli.add_argument("--kill-at", type=float, default=20.0)
    cli.add_argument("--restart-after", type=float, default=2.0)
    cli.add_argument("--cards", type=int, default=2000)
    args = cli.parse_args()
    machine = Machine()

    from fraudstream.kafka_clients import connected_producer
    from fraudstream.replay.runner import PredictionCollector
    from fraudstream.stack import flink as flink_stack
    from fraudstream.streaming.testkit import Tx, reference_features

    settings = with_model(get_settings(), "bench-recovery-models-")
    start_pipeline(settings)
    rng = random.Random()  # fresh cards every run (an earlier run's transactions would be in their windows)
    cards = seed_cards(settings, args.cards, rng)
    warm = run_rate(settings, 500, 0, cards, rng, card_order=cards)  # steady state: every card's week is cached
    warm_rows = [Tx(*row) for row in warm["sent_rows"]]
    taskmanager = next(p for p in flink_stack.processes(settings) if p.name == flink_stack.TASKMANAGER)

    n = int(args.rate * args.seconds)
    run = uuid.uuid4().hex[:6]
    rows: list[Tx] = []
    sent_at: dict[str, float] = {}
    collector = PredictionCollector(settings, [f"rc-{run}-{i:07d}" for i in range(n)]).start()
    producer = connected_producer(settings, **{"linger.ms": 0})
    events: dict[str, float] = {}

    def fault() -> None:
        time.sleep(args.kill_at)
        pid = taskmanager.running_pid()
        events["kill"] = time.time()
        if pid:
            os.killpg(pid, signal.SIGKILL)
        time.sleep(args.restart_after)
        while taskmanager.running_pid() is not None:
            time.sleep(0.1)
        taskmanager.start()
        events["restart"] = time.time()

    threading.Thread(target=fault, daemon=True).start()
    t0 = time.monotonic()
    for i in range(n):
        tid, card = f"rc-{run}-{i:07d}", rng.choice(cards)
        tx, sent_at[tid] = send_live(producer, settings, t0 + i / args.rate, tid, card, round(rng.uniform(1, 500), 2))
        rows.append(Tx(tx.tid, card, tx.amount, tx.trans_time))
    producer.flush(30)
    collector.wait(240, interval=0.2)
    collector.stop()
    got = dict(collector.received)

    # offline recomputation of the same transactions (event time = what was sent)
    expected = reference_features(warm_rows + rows)  # the warm-up transactions are in the windows too
    wrong = [
        t
        for t, (pred, _) in got.items()
        if (pred["num_trans_last_10m"], pred["avg_amt_last_10m"], pred["max_amt_last_10m"]) != expected[t]
    ]
    kill = events.get("kill", float("nan"))
    after_kill = sorted((got[t][1], t) for t in got if sent_at[t] > kill)
    first_after = after_kill[0][0] if after_kill else float("nan")
    lat = {t: (got[t][1] - sent_at[t]) * 1000 for t in got}
    recovered_at = max((got[t][1] for t in got if sent_at[t] <= first_after), default=first_after)
    before = [v for t, v in lat.items() if sent_at[t] < kill]
    during = [v for t, v in lat.items() if kill <= sent_at[t] <= recovered_at]
    after = [v for t, v in lat.items() if sent_at[t] > recovered_at]
    out = {
        "benchmark": "recovery",
        "fault": f"SIGKILL flink-taskmanager, started again after {args.restart_after:.1f} s",
        "rate": args.rate,
        "seconds": args.seconds,
        "sent": n,
        "predicted": len(got),
        "missing": n - len(got),
        "features_differ_from_offline": len(wrong),
        "differ_examples": [
            {
                "tid": t,
                "got": [got[t][0][k] for k in ("num_trans_last_10m", "avg_amt_last_10m", "max_amt_last_10m")],
                "expected": list(expected[t]),
            }
            for t in wrong[:3]
        ],  # fmt: skip
        "recovery_s": round(first_after - kill, 2),
        "backlog_drained_s_after_kill": round(recovered_at - kill, 2),
        "latency_ms": {
            "before": percentiles(before, digits=1),
            "during": percentiles(during, digits=1),
            "after": percentiles(after, digits=1),
        },
        "duplicates_note": "the collector keeps the first copy per tid; copies after a restart are re-emitted "
        "from identical state (see docs/streaming.md)",
        "machine": machine.block(),
    }
    print(json.dumps(out, indent=2))
    t0 = sent_at[rows[0].tid]
    sends = {t: sent_at[t] - t0 for t in lat}
    marks = {
        "TaskManager killed": kill - t0,
        **({"TaskManager started": events["restart"] - t0} if "restart" in events else {}),
    }
    title = f"TaskManager kill at {args.rate:.0f} tx/s: {n - len(got)} missing, {len(wrong)} wrong"
    write_report(args.out, out, plot=lambda png: plot(sends, lat, marks, title, png))


def plot(
    sends: dict[str, float], latency_ms: dict[str, float], marks: dict[str, float], title: str, path: Path
) -> None:
    """Send → prediction latency of every transaction against its send time, with the fault's moments."""
    with figure(path, figsize=(10, 4)) as (_, ax):
        ax.scatter(np.array(list(sends.values())), np.array([latency_ms[t] for t in sends]), s=2)
        for (label, at), colour in zip(marks.items(), ("red", "green"), strict=False):
            ax.axvline(at, color=colour, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("send time (s)")
        ax.set_ylabel("send → prediction (ms)")
        ax.set_title(title)
        ax.legend()


if __name__ == "__main__":
    main()
