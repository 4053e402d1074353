"""Benchmark: chaos. Steady live traffic through the whole local pipeline while, in turn, each part is killed.

Faults, one every ``--every`` seconds (SIGKILL to the process group, then the stack's supervisor
restarts it with backoff; after a JobManager restart it resubmits the job from the latest
checkpoint): kafka, flink-taskmanager, flink-jobmanager, dynamodb, endpoint, agg-writer,
fraud-scorer, and a graceful Kafka restart with its data intact (``kafka-restart``).

Per fault window (from its fault to the next): transactions sent, predictions received, missing
(must be 0), duplicated predictions as identical copies (allowed: only ``scored_at`` differs) and as
differing copies (must be 0), predictions whose 10-minute features differ from an offline recomputation (must be 0),
time until predictions flow again (fault → first prediction of a transaction sent after it) and the
latency p99 during (until recovered) and after. Writes ``benchmarks/results/chaos.json`` and
``chaos.png`` (throughput and latency over time, faults marked; duplicates per fault). The
injection (``fraudstream.stack.faults``) and the check (``fraudstream.testing.chaos``) are the ones
the chaos integration tests (``tests/chaos``) use.

Run it on a stack of its own, off the lead's default ports (as ``make chaos`` does):

    FRAUDSTREAM_STATE_DIR=/tmp/fraudstream-chaos FRAUDSTREAM_KAFKA_PORT=19092 FRAUDSTREAM_KAFKA_CONTROLLER_PORT=19093 \\
    FRAUDSTREAM_DYNAMODB_PORT=18000 FRAUDSTREAM_FLINK_REST_PORT=18081 FRAUDSTREAM_FLINK_RPC_PORT=16123 \\
    FRAUDSTREAM_ENDPOINT_PORT=18080 .venv/bin/python benchmarks/bench_chaos.py [--rate 1000] [--every 40]
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from _common import Machine, figure, parser, percentiles, write_report
from _live import seed_cards, start_pipeline
from bench_latency import run_rate
from bench_scorer import with_model

from fraudstream.settings import get_settings
from fraudstream.stack.faults import FAULTS, inject
from fraudstream.testing.chaos import DeliveryCheck


def window_report(
    fault: str, start: float, end: float, sent_at: dict[str, float], got: dict, check: DeliveryCheck
) -> dict:
    """One fault's window: the delivery counts of what was sent in it, recovery time, latency p50/p99."""
    tids = [t for t, s in sent_at.items() if start <= s < end]
    predicted = [t for t in tids if t in got]
    after = sorted(got[t][1] for t in predicted)
    recovered_at = after[0] if after else float("nan")
    lat = {t: (got[t][1] - sent_at[t]) * 1000 for t in predicted}
    return {
        "fault": fault,
        "at_s": start,
        **check.count(tids),
        "recovery_s": round(recovered_at - start, 2) if after else None,
        "latency_during_ms": percentiles([v for t, v in lat.items() if sent_at[t] <= recovered_at], digits=1),
        "latency_after_ms": percentiles([v for t, v in lat.items() if sent_at[t] > recovered_at], digits=1),
    }


def plot(
    path: Path, t0: float, sent_at: dict[str, float], got: dict, faults: list[tuple[str, float]], windows: list[dict]
) -> None:
    """Throughput and latency over time with the faults marked; per fault, duplicates identical vs differing."""
    with figure(path, 3, 1, figsize=(12, 10)) as (fig, (ax1, ax2, ax3)):
        ax2.sharex(ax1)  # ax3 has one bar per fault, not seconds
        recv = np.array(sorted(got[t][1] - t0 for t in got))
        lat = sorted(((sent_at[t] - t0), (got[t][1] - sent_at[t]) * 1000) for t in got)
        if len(recv):
            ax1.hist(recv, bins=np.arange(0, recv.max() + 1, 1.0), histtype="step")
        ax1.set_ylabel("predictions / s")
        if lat:
            ax2.scatter([x for x, _ in lat], [y for _, y in lat], s=1)
        ax2.set_yscale("log")
        ax2.set_ylabel("latency (ms, by send time)")
        ax2.set_xlabel("seconds")
        for name, at in faults:
            for ax in (ax1, ax2):
                ax.axvline(at - t0, color="red", lw=0.8)
            ax1.annotate(name, (at - t0, ax1.get_ylim()[1] * 0.9), rotation=90, fontsize=7, color="red")
        x = np.arange(len(windows))
        identical = [w["duplicates_identical"] for w in windows]
        differing = [w["duplicates_differing"] for w in windows]
        ax3.bar(x - 0.2, identical, 0.4, label="identical copies (allowed)")
        ax3.bar(x + 0.2, differing, 0.4, color="red", label="differing (must be 0)")
        for i, (same, differ) in enumerate(zip(identical, differing, strict=True)):
            ax3.annotate(f"{same} / {differ}", (i, max(same, differ)), ha="center", fontsize=7)
        ax3.set_xticks(x, [w["fault"] for w in windows], rotation=20, fontsize=8)
        ax3.set_ylabel("duplicated tids")
        ax3.legend(fontsize=8)
        fig.suptitle("chaos: throughput and latency, faults marked; duplicate predictions per fault")


def wrong_examples(
    tids: list[str], got: dict[str, Any], expected: dict[str, Any], rows: list[Any], sent_at: dict[str, float]
) -> list[dict[str, Any]]:
    """For a prediction whose features differ from the recomputation: both, and its card's rows around it."""
    by_tid = {r.tid: r for r in rows}
    out = []
    for tid in tids:
        row = by_tid[tid]
        pred = got[tid][0]
        near = [
            {"tid": r.tid, "trans_time": r.trans_time.isoformat(), "amount": r.amount, "sent_at": sent_at.get(r.tid)}
            for r in rows
            if r.cc_num == row.cc_num and abs((r.trans_time - row.trans_time).total_seconds()) <= 601
        ]
        out.append({
            "tid": tid,
            "got": [pred["num_trans_last_10m"], pred["avg_amt_last_10m"], pred["max_amt_last_10m"]],
            "expected": list(expected[tid]),
            "card_rows_within_10_min": near,
        })  # fmt: skip
    return out


def main() -> None:
    cli = parser(__doc__, "chaos.json")
    cli.add_argument("--rate", type=float, default=1000.0, help="tx/s (default: %(default)s)")
    cli.add_argument("--every", type=float, default=40.0, help="seconds between faults (default: %(default)s)")
    cli.add_argument("--faults", default=",".join(FAULTS), help="in this order (default: %(default)s)")
    cli.add_argument("--cards", type=int, default=2000, help="cards with a week of history (default: %(default)s)")
    cli.add_argument("--drain", type=float, default=240.0,
                     help="seconds to wait for predictions at the end (default: %(default)s)")  # fmt: skip
    args = cli.parse_args()
    machine = Machine()

    from fraudstream.stack.supervisor import ensure_supervisor
    from fraudstream.streaming.testkit import Tx, reference_features
    from fraudstream.testing.chaos import CopyCollector, SteadyTraffic, check_delivery

    faults = [f for f in args.faults.split(",") if f]
    settings = with_model(get_settings(), "bench-chaos-models-")
    start_pipeline(settings)
    ensure_supervisor(settings)
    rng = random.Random()
    cards = seed_cards(settings, args.cards, rng)
    warm = run_rate(settings, 500, 0, cards, rng, card_order=cards)
    warm_rows = [Tx(*row) for row in warm["sent_rows"]]

    n = int(args.rate * args.every * (len(faults) + 1))
    traffic = SteadyTraffic(settings, cards, args.rate, n, f"ch-{uuid.uuid4().hex[:6]}")
    collector = CopyCollector(settings, traffic.tids).start()
    injected: list[tuple[str, float]] = []

    def chaos() -> None:
        for fault in faults:
            time.sleep(args.every)
            injected.append((fault, time.time()))
            print(f"fault: {fault}", flush=True)
            inject(settings, fault)

    threading.Thread(target=chaos, daemon=True).start()
    traffic.start()
    traffic.join()  # includes the producer's flush: a record may wait out a Kafka restart in its queue
    collector.wait(args.drain, interval=0.5)
    collector.stop()
    got, copies = collector.snapshot()
    rows, sent_at, t_start = traffic.rows, traffic.sent_at, traffic.started_at

    check = check_delivery(rows, copies, history=warm_rows)
    expected = reference_features(warm_rows + rows)
    bounds = [("none (baseline)", t_start), *injected, ("end", float("inf"))]
    windows = [
        window_report(bounds[i][0], bounds[i][1], bounds[i + 1][1], sent_at, got, check) for i in range(len(bounds) - 1)
    ]
    for w in windows:
        w["at_s"] = round(w["at_s"] - t_start, 1)
    out: dict[str, Any] = {
        "benchmark": "chaos",
        "rate": args.rate,
        **check.count(),
        "prediction_copies": check.copies,
        "duplicates_rule": "a redelivered prediction must equal the first copy but for scored_at (docs/faults.md)",
        "features_wrong_examples": wrong_examples(
            sorted(check.features_wrong)[:10], got, expected, warm_rows + rows, sent_at
        ),
        "duplicates_differing_examples": {t: copies[t] for t in sorted(check.duplicates_differing)[:5]},
        "unflushed_at_end": traffic.unflushed,
        "faults": windows,
        "machine": machine.block(),
    }
    write_report(args.out, out, plot=lambda png: plot(png, t_start, sent_at, got, injected, windows))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
