"""Benchmark: ``produce --max`` of a generated file into a real local broker.

Uses the broker at ``FRAUDSTREAM_KAFKA_BOOTSTRAP`` when set, else starts a private one on free
ports (and stops it afterwards). Sends to fresh topic names so that nothing else is disturbed.
Prints records/s (transactions + labels) and peak memory; writes ``benchmarks/results/produce.json``
and ``produce.png``. Target (issue 3): at least 100,000 records/s.

    .venv/bin/python benchmarks/bench_produce.py [--transactions N] [--no-labels] [--out FILE.json]
"""

from __future__ import annotations

import contextlib
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from _common import Machine, engines, figure, parser, write_report

from fraudstream.generator import GeneratorConfig, generate_table, write_transactions
from fraudstream.producer import produce
from fraudstream.settings import Settings


@contextlib.contextmanager
def broker(state_dir: Path) -> Iterator[Settings]:
    """Settings pointing at a broker (the external one, or a private one for the run), with fresh topic names."""
    suffix = uuid.uuid4().hex[:8]
    with engines(state_dir, ["kafka"]) as settings:
        yield settings.model_copy(
            update={
                "topic_transactions": f"bench-transactions-{suffix}",
                "topic_labels": f"bench-labels-{suffix}",
                "topic_dead_letter": f"bench-dead-letter-{suffix}",
            }
        )


def delete_topics(settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    with contextlib.suppress(Exception):
        admin.delete_topics([settings.topic_transactions, settings.topic_labels, settings.topic_dead_letter])


def plot_throughput(result: dict, samples: list[tuple[float, int]], path: Path) -> None:
    """Records queued per second over the run, against the 100k/s target."""
    with figure(path, figsize=(7, 3.2)) as (_, ax):
        if len(samples) > 1:
            times = [t for t, _ in samples]
            rates = [(b - a) / max(tb - ta, 1e-9) for (ta, a), (tb, b) in zip(samples, samples[1:], strict=False)]
            ax.plot(times[1:], rates, color="#4c72b0", label="records/s (interval)")
        ax.axhline(result["target_records_per_s"], color="#c44e52", linestyle="--", label="target")
        ax.axhline(result["records_per_s"], color="#55a868", label=f"overall {result['records_per_s']:,}/s")
        ax.set_xlabel("seconds")
        ax.set_ylabel("records/s")
        ax.set_title(
            f"produce --max: {result['transactions']:,} transactions + {result['labels']:,} labels", fontsize=9
        )
        ax.legend(fontsize=8)


def main() -> None:
    cli = parser(__doc__, "produce.json")
    cli.add_argument("--transactions", type=int, default=2_000_000)
    cli.add_argument("--no-labels", action="store_true")
    args = cli.parse_args()

    machine = Machine()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_transactions(
            generate_table(GeneratorConfig(transactions=args.transactions)), Path(tmp) / "tx.parquet"
        )
        with broker(Path(tmp) / "state") as settings:
            try:
                cpu_began = time.process_time()
                samples: list[tuple[float, int]] = []
                summary = produce(
                    path,
                    settings,
                    labels=not args.no_labels,
                    on_progress=lambda s: samples.append((s.seconds, s.sent)),
                )
                cpu_seconds = time.process_time() - cpu_began
            finally:
                delete_topics(settings)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "benchmark": "produce --max",
        "transactions": summary.transactions_sent,
        "labels": summary.labels_sent,
        "failed": summary.failed,
        "seconds": round(summary.seconds, 2),
        "records_per_s": round(summary.records_per_s),
        "transactions_per_s": round(summary.transactions_per_s),
        "producer_cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mb": round(peak_mb),
        "partitions": settings.partitions,
        "target_records_per_s": 100_000,
        "meets_target": summary.records_per_s >= 100_000,
        "machine": machine.block(),
    }
    write_report(args.out, result, plot=lambda png: plot_throughput(result, samples, png))
    print(
        f"produce --max: {summary.sent:,} records ({summary.transactions_sent:,} transactions + "
        f"{summary.labels_sent:,} labels) in {summary.seconds:.1f} s = {result['records_per_s']:,} records/s "
        f"({result['transactions_per_s']:,} transactions/s), failed {summary.failed}, "
        f"producer cpu {result['producer_cpu_seconds']} s, load {result['machine']['load_avg_1m_end']}, "
        f"peak {result['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
