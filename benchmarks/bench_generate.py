"""Benchmark: generate the default 5.4M-row dataset and write it as Parquet.

Prints seconds, rows/s and peak memory; writes ``benchmarks/results/generate.json`` (``generate_rich.json``
for the rich profile) and a PNG of the seconds per stage.
Target (issue 3): under 30 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_generate.py [--transactions N] [--profile seed|rich] [--out FILE.json]
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from _common import RESULTS, Machine, figure, parser, write_report

from fraudstream.generator import GeneratorConfig, generate_table, write_transactions


def main() -> None:
    cli = parser(__doc__, None)  # default --out: generate.json, or generate_<profile>.json
    cli.add_argument("--transactions", type=int, default=5_400_000)
    cli.add_argument("--cards", type=int, default=10_000)
    cli.add_argument("--profile", default="seed", choices=["seed", "rich"])
    cli.add_argument(
        "--keep-parquet", type=Path, default=None, help="Keep the Parquet file here (default: a temp file)."
    )
    args = cli.parse_args()

    machine = Machine()
    config = GeneratorConfig(cards=args.cards, transactions=args.transactions, profile=args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep_parquet or Path(tmp) / "transactions.parquet"
        marks: list[tuple[str, float]] = []
        began, cpu_began = time.perf_counter(), time.process_time()
        table = generate_table(config, lambda step: marks.append((step, time.perf_counter())))
        generated = time.perf_counter()
        write_transactions(table, out)
        done, cpu_done = time.perf_counter(), time.process_time()
        size_mb = out.stat().st_size / 2**20

    ends = [t for _, t in marks[1:]] + [generated]
    stages = {name: round(end - start, 2) for (name, start), end in zip(marks, ends, strict=True)}
    stages["write parquet"] = round(done - generated, 2)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = done - began
    result = {
        "benchmark": "generate",
        "profile": config.profile,
        "rows": table.num_rows,
        "fraud_rows": config.fraud_rows,
        "cards": config.cards,
        "seconds_generate": round(generated - began, 2),
        "seconds_write": round(done - generated, 2),
        "seconds_total": round(total, 2),
        "seconds_by_stage": stages,
        "rows_per_s": round(table.num_rows / total),
        "cpu_seconds": round(cpu_done - cpu_began, 2),
        "peak_rss_mb": round(peak_mb),
        "file_mb": round(size_mb, 1),
        "target_seconds": 30,
        "meets_target": total < 30,
        "machine": machine.block(),
    }
    name = "generate.json" if config.profile == "seed" else f"generate_{config.profile}.json"
    write_report(args.out or RESULTS / name, result, plot=lambda png: plot_stages(result, png))
    print(
        f"generate {result['rows']:,} rows ({config.profile}): {total:.1f} s "
        f"(generate {result['seconds_generate']} s, write {result['seconds_write']} s), "
        f"{result['rows_per_s']:,} rows/s, cpu {result['cpu_seconds']} s, load {result['machine']['load_avg_1m_end']}, "
        f"peak {result['peak_rss_mb']} MB, file {result['file_mb']} MB"
    )


def plot_stages(result: dict, path: Path) -> None:
    """Horizontal bars: wall seconds per stage, with the 30 s target in the title."""
    stages = result["seconds_by_stage"]
    with figure(path, figsize=(7, 3.2)) as (_, ax):
        ax.barh(list(stages)[::-1], list(stages.values())[::-1], color="#4c72b0")
        ax.set_xlabel("seconds (wall)")
        ax.set_title(
            f"generate {result['rows']:,} rows ({result['profile']}): {result['seconds_total']} s, "
            f"{result['rows_per_s']:,} rows/s (target < {result['target_seconds']} s)",
            fontsize=9,
        )


if __name__ == "__main__":
    main()
