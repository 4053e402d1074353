"""Benchmark: generate the default 5.4M-row dataset and write it as Parquet.

Prints seconds, rows/s and peak memory; writes ``benchmarks/results/generate.json``.
Target (issue 3): under 30 s on a 2-core machine.

    .venv/bin/python benchmarks/bench_generate.py [--transactions N] [--profile seed|rich]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from fraudstream.generator import GeneratorConfig, generate_table, write_transactions

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=5_400_000)
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--profile", default="seed", choices=["seed", "rich"])
    parser.add_argument("--out", type=Path, default=None, help="Keep the file here (default: a temp file).")
    args = parser.parse_args()

    config = GeneratorConfig(cards=args.cards, transactions=args.transactions, profile=args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "transactions.parquet"
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
        "load_average_1m": round(os.getloadavg()[0], 1),
        "peak_rss_mb": round(peak_mb),
        "file_mb": round(size_mb, 1),
        "target_seconds": 30,
        "meets_target": total < 30,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "generate.json" if config.profile == "seed" else f"generate_{config.profile}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    plot_stages(result, RESULTS / name.replace(".json", ".png"))
    print(
        f"generate {result['rows']:,} rows ({config.profile}): {total:.1f} s "
        f"(generate {result['seconds_generate']} s, write {result['seconds_write']} s), "
        f"{result['rows_per_s']:,} rows/s, cpu {result['cpu_seconds']} s, load {result['load_average_1m']}, "
        f"peak {result['peak_rss_mb']} MB, file {result['file_mb']} MB"
    )


def plot_stages(result: dict, path: Path) -> None:
    """Horizontal bars: wall seconds per stage, with the 30 s target in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = result["seconds_by_stage"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(list(stages)[::-1], list(stages.values())[::-1], color="#4c72b0")
    ax.set_xlabel("seconds (wall)")
    ax.set_title(
        f"generate {result['rows']:,} rows ({result['profile']}): {result['seconds_total']} s, "
        f"{result['rows_per_s']:,} rows/s (target < {result['target_seconds']} s)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
