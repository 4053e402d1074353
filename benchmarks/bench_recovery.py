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

    .venv/bin/python benchmarks/bench_recovery.py [--rate 1000] [--seconds 60] [--kill-at 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_latency import RESULTS, run_rate, seed_cards, start_pipeline
from bench_scorer import tiny_model

from fraudstream.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kill-at", type=float, default=20.0)
    parser.add_argument("--restart-after", type=float, default=2.0)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS / "recovery.json")
    args = parser.parse_args()

    from fraudstream.kafka_clients import connected_producer, poll_for
    from fraudstream.messages import Transaction, encode
    from fraudstream.replay.runner import PredictionCollector
    from fraudstream.stack import flink as flink_stack
    from fraudstream.streaming.testkit import Tx, reference_features

    settings = get_settings()
    if not (settings.model_dir / "latest").exists():
        model_dir = Path(tempfile.mkdtemp(prefix="bench-recovery-models-"))
        tiny_model(model_dir)
        settings = settings.model_copy(update={"model_dir": model_dir})
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
        due = t0 + i / args.rate
        while (wait := due - time.monotonic()) > 0:
            poll_for(producer, min(wait, 0.005))
        card = rng.choice(cards)
        tx = Tx(f"rc-{run}-{i:07d}", card, round(rng.uniform(1, 500), 2), datetime.now(UTC))
        rows.append(tx)
        sent_at[tx.tid] = time.time()
        value = encode(Transaction(tid=tx.tid, cc_num=card, amount=tx.amount, trans_time=tx.trans_time))
        while True:
            try:
                producer.produce(settings.topic_transactions, key=card.encode(), value=value)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(30)
    deadline = time.monotonic() + 240
    while not collector.complete() and time.monotonic() < deadline:
        time.sleep(0.2)
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

    def pct(sel: list[float]) -> dict[str, float]:
        if not sel:
            return {}
        a = np.array(sel)
        return {"p50": round(float(np.percentile(a, 50)), 1), "p99": round(float(np.percentile(a, 99)), 1),
                "max": round(float(a.max()), 1)}  # fmt: skip

    recovered_at = max((got[t][1] for t in got if sent_at[t] <= first_after), default=first_after)
    before = [v for t, v in lat.items() if sent_at[t] < kill]
    during = [v for t, v in lat.items() if kill <= sent_at[t] <= recovered_at]
    after = [v for t, v in lat.items() if sent_at[t] > recovered_at]
    out = {
        "benchmark": "recovery",
        "measured_at": datetime.now(UTC).isoformat(),
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
        "latency_ms": {"before": pct(before), "during": pct(during), "after": pct(after)},
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_end": round(os.getloadavg()[0], 2)},
        "duplicates_note": "the collector keeps the first copy per tid; copies after a restart are re-emitted "
        "from identical state (see docs/streaming.md)",
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.array([sent_at[t] - sent_at[rows[0].tid] for t in lat])
    ys = np.array(list(lat.values()))
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.scatter(xs, ys, s=2)
    ax.axvline(kill - sent_at[rows[0].tid], color="red", label="TaskManager killed")
    if "restart" in events:
        ax.axvline(events["restart"] - sent_at[rows[0].tid], color="green", label="TaskManager started")
    ax.set_yscale("log")
    ax.set_xlabel("send time (s)")
    ax.set_ylabel("send → prediction (ms)")
    ax.set_title(f"TaskManager kill at {args.rate:.0f} tx/s: {n - len(got)} missing, {len(wrong)} wrong")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)


if __name__ == "__main__":
    main()
