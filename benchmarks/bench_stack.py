"""Benchmark of the local stack: time of ``stack up`` to all-ready, idle RSS of each engine, time of ``down``.

Runs a complete stack (Kafka, DynamoDB Local, Flink JobManager + TaskManager) on free ports in a
temporary state dir, so it never touches a running stack. Writes benchmarks/results/stack.json and
a bar chart of the idle memory (stack.png).

    .venv/bin/python benchmarks/bench_stack.py [--idle-seconds 15] [--out FILE.json]
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from _common import Machine, figure, parser, write_report


def rss_mib(pid: int) -> float:
    """Resident memory of one process (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def plot(rss: dict[str, float], out: Path, up_seconds: float) -> None:
    with figure(out, figsize=(7, 3.5)) as (_, ax):
        bars = ax.barh(list(rss), list(rss.values()), color="#4c72b0")
        ax.bar_label(bars, fmt="%.0f MiB", padding=3)
        ax.set_xlim(0, max(rss.values(), default=1) * 1.2)
        ax.set_xlabel("resident memory at idle (MiB)")
        ax.set_title(f"local stack: idle RSS per engine (total {sum(rss.values()):.0f} MiB), up in {up_seconds:.1f}s")
        ax.invert_yaxis()


def main() -> None:
    cli = parser(__doc__, "stack.json")
    cli.add_argument("--idle-seconds", type=float, default=15.0, help="wait before reading RSS")
    args = cli.parse_args()

    from fraudstream.stack.flink_dist import flink_version
    from fraudstream.stack.manager import Stack
    from fraudstream.testing.engines import make_test_settings

    machine = Machine()  # other work on the machine slows start-up: its load is in the report
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        for name in ("FRAUDSTREAM_KAFKA_BOOTSTRAP", "AWS_ENDPOINT_URL", "FRAUDSTREAM_FLINK_REST"):
            os.environ.pop(name, None)
        settings = make_test_settings(Path(tmp))
        stack = Stack(settings, report=lambda message: print(f"  {time.strftime('%X')} {message}", flush=True))
        try:
            t0 = time.monotonic()
            result = stack.up()
            up_seconds = time.monotonic() - t0
            print(f"stack up to all-ready: {up_seconds:.1f}s")
            time.sleep(args.idle_seconds)
            rss = {row.name: round(rss_mib(row.pid), 1) for row in stack.status() if row.pid}
            t1 = time.monotonic()
        finally:
            stopped = stack.down()
        down_seconds = time.monotonic() - t1

    report = {
        "benchmark": "stack",
        "up_to_all_ready_s": round(up_seconds, 2),
        "down_s": round(down_seconds, 2),
        "idle_rss_mib": rss,
        "idle_rss_total_mib": round(sum(rss.values()), 1),
        "idle_seconds_before_rss": args.idle_seconds,
        "started": result.started,
        "stopped": stopped,
        "settings": {
            "kafka_heap": settings.kafka_heap,
            "dynamodb_heap": settings.dynamodb_heap,
            "flink_jobmanager_memory": settings.flink_jobmanager_memory,
            "flink_taskmanager_memory": settings.flink_taskmanager_memory,
            "flink_task_slots": settings.flink_task_slots,
        },
        "flink_version": flink_version(),
        "machine": machine.block(),
    }
    write_report(args.out, report, plot=lambda png: plot(rss, png, up_seconds))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
