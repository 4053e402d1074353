"""Benchmark: a soak run. Steady live traffic for ``--minutes`` through the whole local pipeline.

Sampled every ``--sample-s`` seconds: resident memory (RSS) of every pipeline process, consumer lag
of each handler group on ``cc-agg``, disk use of Kafka's data and of Flink's checkpoints, and the
load average. At the end: sent, predicted, missing (must be 0). Pass criteria printed and written:
RSS after warm-up (the first 20 % of the run) within ±10 % of its post-warm-up median, lag bounded
(max under ``--rate`` × 5 s), disk use of the last sample under 2× that at the end of warm-up.
Writes ``benchmarks/results/soak.json`` and ``soak.png``.

Run it on a stack of its own, off the lead's default ports, e.g.:

    FRAUDSTREAM_STATE_DIR=/tmp/soak-state FRAUDSTREAM_KAFKA_PORT=19092 FRAUDSTREAM_KAFKA_CONTROLLER_PORT=19093 \\
    FRAUDSTREAM_DYNAMODB_PORT=18000 FRAUDSTREAM_FLINK_REST_PORT=18081 FRAUDSTREAM_FLINK_RPC_PORT=16123 \\
    FRAUDSTREAM_ENDPOINT_PORT=18080 .venv/bin/python benchmarks/bench_soak.py --minutes 30 --rate 1000

(``make soak`` does exactly this; ``--minutes 2`` is the short check.) Stop that stack afterwards
with the same environment and ``fraudstream stack down``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from _common import Machine, figure, load_1m, parser, write_report
from _live import handler_lag, pipeline_pids, rss_mib, seed_cards, send_live, start_pipeline
from bench_scorer import with_model
from rich.progress import Progress

from fraudstream.settings import Settings, get_settings


def du_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total / 2**20


def sample(settings: Settings, t0: float) -> dict[str, Any]:
    """One sample: RSS of every pipeline process, each handler's lag on ``cc-agg``, disk use, load."""
    from fraudstream.demo.services import HANDLERS

    state = Path(settings.state_dir).resolve()
    pids = pipeline_pids(settings)
    return {
        "t": round(time.time() - t0, 1),
        "rss_mib": {name: r for name, pid in pids.items() if (r := rss_mib(pid)) is not None},
        "lag": {name: handler_lag(settings, name) for name in HANDLERS},
        "kafka_disk_mib": round(du_mib(state / "kafka"), 1),
        "checkpoint_disk_mib": round(du_mib(state / "flink" / "checkpoints"), 1),
        "load_avg_1m": load_1m(),
    }


def lag_trend(lags: list[int], rate: float) -> dict[str, Any]:
    """Whether a group's lag after warm-up grows: its second half's mean over its first half's by more
    than half and by more than a second of traffic. Why beside ``lag_bounded`` (max under rate x 5 s):
    a reader off the verdict path that runs at low priority on a busy box sits seconds behind at
    times, which that fixed bar calls unbounded; a lag that keeps growing is the failure a soak is for."""
    half = len(lags) // 2
    first, second = (float(np.mean(part)) if part else 0.0 for part in (lags[:half], lags[half:]))
    return {
        "mean_first_half": round(first, 1),
        "mean_second_half": round(second, 1),
        "max_after_warmup": max(lags, default=0),
        "growing": second > 1.5 * first and second - first > rate,
    }


def verdicts(samples: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """Flat RSS after warm-up, bounded lag, bounded disk."""
    warm = max(1, len(samples) // 5)
    after = samples[warm:] or samples
    rss = {}
    for name in after[0]["rss_mib"]:
        series = np.array([s["rss_mib"].get(name, np.nan) for s in after], dtype=float)
        med = float(np.nanmedian(series))
        dev = float(np.nanmax(np.abs(series - med)) / med * 100) if med else 0.0
        rss[name] = {"median_mib": round(med, 1), "max_dev_pct": round(dev, 1), "flat": dev <= 10.0}
    max_lag = {g: max(s["lag"].get(g, 0) for s in samples) for g in samples[0]["lag"]}
    trend = {g: lag_trend([s["lag"].get(g, 0) for s in after], rate) for g in samples[0]["lag"]}
    disk = {k: (samples[warm - 1][k], samples[-1][k]) for k in ("kafka_disk_mib", "checkpoint_disk_mib")}
    return {
        "rss": rss,
        "max_lag": max_lag,
        "lag_bounded": all(v <= rate * 5 for v in max_lag.values()),
        "lag_trend": trend,
        "lag_growing": any(t["growing"] for t in trend.values()),
        "disk_mib_warm_end_vs_last": disk,
        # Kafka's log grows with the traffic it retains (7 days); only checkpoints must stay bounded
        "checkpoints_bounded": disk["checkpoint_disk_mib"][1] <= 2 * max(disk["checkpoint_disk_mib"][0], 1.0),
    }


def counting_collector(settings: Settings, run: str, n: int) -> Any:
    """A prediction collector that only marks which of the ``n`` soak tids came back (one byte each).

    Why: the replay collector keeps every prediction record for its report; over a 30-minute soak
    that is 1.8 million records, and the benchmark's own memory grew to 5 GiB beside the pipeline it
    measures."""
    from fraudstream.replay.runner import PredictionCollector

    class Counting(PredictionCollector):
        def __init__(self) -> None:
            super().__init__(settings, [])
            self.seen = bytearray(n)
            self.got = 0

        def keep(self, tid: str, record: dict[str, Any], received_at: float) -> None:
            index = int(tid.rsplit("-", 1)[1])
            if not self.seen[index]:
                self.seen[index] = 1
                self.got += 1

        def count(self) -> int:
            return self.got

        def complete(self) -> bool:
            return self.got >= n

    class SoakTids:  # membership by prefix: 1.8 million tids are not held in a set
        def __contains__(self, tid: object) -> bool:
            return isinstance(tid, str) and tid.startswith(f"sk-{run}-")

    collector = Counting()
    collector.wanted = SoakTids()  # type: ignore[assignment]
    return collector


def soak_tids(run: str, n: int) -> Any:
    """The soak's transaction ids, generated (not held) in order."""
    return (f"sk-{run}-{i:08d}" for i in range(n))


def plot(path: Path, samples: list[dict[str, Any]]) -> None:
    """RSS of every process, each handler's lag and the disk use over the run."""
    t = [s["t"] / 60 for s in samples]
    with figure(path, 3, 1, figsize=(10, 10), sharex=True) as (fig, (ax1, ax2, ax3)):
        for name in samples[-1]["rss_mib"]:
            ax1.plot(t, [s["rss_mib"].get(name, np.nan) for s in samples], label=name)
        ax1.set_ylabel("RSS (MiB)")
        ax1.legend(fontsize=7, ncol=3)
        for group in samples[-1]["lag"]:
            ax2.plot(t, [s["lag"].get(group, 0) for s in samples], label=group)
        ax2.set_ylabel("consumer lag (records)")
        ax2.legend(fontsize=7)
        ax3.plot(t, [s["kafka_disk_mib"] for s in samples], label="kafka data")
        ax3.plot(t, [s["checkpoint_disk_mib"] for s in samples], label="flink checkpoints")
        ax3.set_ylabel("disk (MiB)")
        ax3.set_xlabel("minutes")
        ax3.legend(fontsize=7)
        fig.suptitle("soak: memory, lag and disk under steady traffic")


def main() -> None:
    cli = parser(__doc__, "soak.json")
    cli.add_argument("--minutes", type=float, default=30.0, help="minutes of traffic (default: %(default)s)")
    cli.add_argument("--rate", type=float, default=1000.0, help="tx/s (default: %(default)s)")
    cli.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples (default: %(default)s)")
    cli.add_argument("--cards", type=int, default=2000, help="cards with a week of history (default: %(default)s)")
    args = cli.parse_args()
    machine = Machine()

    from fraudstream.kafka_clients import connected_producer

    settings = with_model(get_settings(), "bench-soak-models-")
    start_pipeline(settings)
    rng = random.Random()
    cards = seed_cards(settings, args.cards, rng)

    n = int(args.rate * args.minutes * 60)
    run = uuid.uuid4().hex[:6]
    collector = counting_collector(settings, run, n).start()
    producer = connected_producer(settings, **{"linger.ms": 5})
    samples: list[dict[str, Any]] = []
    t_start = time.time()
    done = threading.Event()

    def sampler() -> None:
        while not done.wait(args.sample_s):
            try:
                samples.append(sample(settings, t_start))
            except Exception as exc:  # a slow admin call must not end the soak
                print(f"sample failed: {exc!r}")

    threading.Thread(target=sampler, daemon=True).start()
    t0 = time.monotonic()
    with Progress() as progress:
        task = progress.add_task(f"soak at {args.rate:.0f} tx/s", total=n)
        for i, tid in enumerate(soak_tids(run, n)):
            send_live(producer, settings, t0 + i / args.rate, tid, rng.choice(cards), round(rng.uniform(1, 500), 2))
            if i % 1000 == 0:
                progress.update(task, completed=i)
        progress.update(task, completed=n)
    producer.flush(30)
    collector.wait(120, interval=0.5)
    collector.stop()
    done.set()
    samples.append(sample(settings, t_start))
    got = collector.count()
    out = {
        "benchmark": "soak",
        "minutes": args.minutes,
        "rate": args.rate,
        "sent": n,
        "predicted": got,
        "missing": n - got,
        "load_avg_1m_max": max(s["load_avg_1m"] for s in samples),
        "verdicts": verdicts(samples, args.rate),
        "samples": samples,
        "machine": machine.block(),
    }
    png = write_report(args.out, out, plot=lambda path: plot(path, samples))
    print(json.dumps({k: v for k, v in out.items() if k != "samples"}, indent=1))
    print(f"wrote {args.out} and {png}")


if __name__ == "__main__":
    main()
