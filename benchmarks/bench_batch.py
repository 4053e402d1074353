"""Benchmark of the PySpark batch job on this machine, with DuckDB running the same SQL as a ratio.

Measures wall time and peak memory (summed RSS of the whole process tree: CLI, Spark JVM, Python
workers) of
* ``fraudstream batch training-set`` over the default 5.4M-row file, and
* ``fraudstream batch nightly`` for one day (compute + conditional load into DynamoDB Local),
and the same queries on DuckDB over the same file (the shared window/aggregate SQL, model inputs
as SQL ratios, Parquet by day), each in its own process. Writes ``benchmarks/results/batch.json``.

    .venv/bin/python benchmarks/bench_batch.py [--input data/transactions.parquet] [--as-of 2020-05-15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results" / "batch.json"


# ------------------------------------------------------------------ measuring a process tree
def _tree_usage(root_pid: int) -> tuple[int, dict[int, float]]:
    """Summed resident bytes of ``root_pid`` and its descendants, and each one's CPU seconds (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            pages = int(Path(entry.path, "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE")
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, tree_cpu, stack = 0, {}, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        tree_cpu[pid] = cpu.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total, tree_cpu


def measure(cmd: list[str], env: dict[str, str] | None = None, label: str = "") -> dict:
    """Run ``cmd``: wall seconds, peak tree RSS and tree CPU seconds, sampled every 0.2 s. Raises on failure.

    CPU seconds make runs comparable when other work shares the machine (wall time does not).
    """
    print(f"[bench] {label}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    peak = 0
    cpu_by_pid: dict[int, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            rss, cpu = _tree_usage(proc.pid)
            peak = max(peak, rss)
            for pid, seconds in cpu.items():
                cpu_by_pid[pid] = max(cpu_by_pid.get(pid, 0.0), seconds)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(output.decode(errors="replace")[-4000:])
        raise SystemExit(f"{label} failed with exit code {proc.returncode}")
    result = {
        "wall_s": round(wall, 2),
        "cpu_s": round(sum(cpu_by_pid.values()), 1),
        "peak_rss_mib": round(peak / 2**20, 1),
        "load_avg_1m_after": round(os.getloadavg()[0], 1),
    }
    print(f"[bench] {label}: {result}", file=sys.stderr, flush=True)
    return result


# ------------------------------------------------------------------ DuckDB reference
DUCKDB_TRAINING = """
import sys, duckdb
from fraudstream import features as F
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"CREATE VIEW tx AS SELECT tid, cc_num, CAST(amount AS {F.AMOUNT_SQL_TYPE}) AS amount, "
            f"trans_time, fraud_label FROM read_parquet('{src}')")
stream = F.stream_aggregate_select_sql("tx", passthrough=("tid", "cc_num", "amount", "trans_time", "fraud_label"))
con.execute(f"CREATE TEMP TABLE streamed AS SELECT *, CAST(trans_time AS DATE) AS dt FROM ({stream})")
con.execute(f'''CREATE TEMP TABLE weekly AS
  WITH daily AS (SELECT cc_num, CAST(trans_time AS DATE) AS dt, COUNT(*) AS n, SUM(amount) AS s FROM tx GROUP BY ALL),
  w AS (SELECT cc_num, dt, SUM(n) OVER wk AS n7, SUM(s) OVER wk AS s7 FROM daily
        WINDOW wk AS (PARTITION BY cc_num ORDER BY dt
                      RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 DAY PRECEDING))
  SELECT cc_num, dt, CASE WHEN n7 > 0 THEN n7 END AS {F.NUM_TRANS_LAST_1W},
         CASE WHEN n7 > 0 THEN CAST(s7 AS DOUBLE) / n7 END AS {F.AVG_AMT_LAST_1W} FROM w''')
con.execute(f'''COPY (
  SELECT s.*, w.{F.NUM_TRANS_LAST_1W}, w.{F.AVG_AMT_LAST_1W},
    s.{F.AVG_AMT_LAST_10M} / NULLIF(w.{F.AVG_AMT_LAST_1W}, 0) AS {F.AMT_RATIO1},
    s.amount / NULLIF(w.{F.AVG_AMT_LAST_1W}, 0) AS {F.AMT_RATIO2},
    s.{F.NUM_TRANS_LAST_10M} / NULLIF(w.{F.NUM_TRANS_LAST_1W}, 0) AS {F.COUNT_RATIO},
    s.{F.MAX_AMT_LAST_10M} / NULLIF(w.{F.AVG_AMT_LAST_1W}, 0) AS {F.MAX_AMT_RATIO}
  FROM streamed s LEFT JOIN weekly w USING (cc_num, dt)
) TO '{out}' (FORMAT PARQUET, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)''')
print(con.execute(f"SELECT COUNT(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()[0])
"""

DUCKDB_NIGHTLY = """
import sys, duckdb
from fraudstream import features as F
src, as_of = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"CREATE VIEW tx AS SELECT * FROM read_parquet('{src}')")
rows = con.execute(F.batch_aggregate_sql("tx", f"TIMESTAMP '{as_of} 00:00:00'")).fetchall()
print(len(rows))
"""


def run_duckdb(script: str, *args: str, label: str) -> dict:
    path = Path(tempfile.mkdtemp(prefix="bench-duckdb-")) / "job.py"
    path.write_text(textwrap.dedent(script))
    try:
        return measure([sys.executable, str(path), *args], label=label)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


# ------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(ROOT / "data" / "transactions.parquet"))
    parser.add_argument("--as-of", default="2020-05-15")
    parser.add_argument("--skip-nightly", action="store_true", help="no DynamoDB Local run")
    args = parser.parse_args()

    source = Path(args.input)
    if not source.exists():
        print(f"[bench] generating {source} (default 5.4M rows)", file=sys.stderr)
        subprocess.run([str(BIN / "fraudstream"), "generate", "--out", str(source)], check=True)

    import pyarrow.parquet as pq

    rows = pq.ParquetFile(source).metadata.num_rows
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    results: dict = {
        "input": str(source),
        "input_rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_start": os.getloadavg()},
    }
    try:
        out = work / "training"
        results["spark_training_set"] = measure(
            [str(BIN / "fraudstream"), "batch", "training-set", "--input", str(source), "--out", str(out)],
            label="spark training-set",
        )
        summary = json.loads((out / "_summary.json").read_text())
        results["spark_training_set"]["rows_out"] = summary["rows_out"]
        results["spark_training_set"]["job_s"] = summary["duration_s"]
        results["duckdb_training_set"] = run_duckdb(
            DUCKDB_TRAINING, str(source), str(work / "duck-training"), label="duckdb training-set"
        )
        results["duckdb_nightly_compute"] = run_duckdb(DUCKDB_NIGHTLY, str(source), args.as_of, label="duckdb nightly")
        if not args.skip_nightly:
            results["spark_nightly"] = bench_nightly(source, args.as_of, work)
        spark_ts, duck_ts = results["spark_training_set"]["wall_s"], results["duckdb_training_set"]["wall_s"]
        results["ratio_training_set_spark_over_duckdb"] = round(spark_ts / duck_ts, 2)
        results["cpu_ratio_training_set_spark_over_duckdb"] = round(
            results["spark_training_set"]["cpu_s"] / max(results["duckdb_training_set"]["cpu_s"], 0.1), 2
        )
        if "spark_nightly" in results:
            results["ratio_nightly_spark_over_duckdb_compute"] = round(
                results["spark_nightly"]["wall_s"] / results["duckdb_nightly_compute"]["wall_s"], 2
            )
        results["machine"]["load_avg_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def bench_nightly(source: Path, as_of: str, work: Path) -> dict:
    """``batch nightly`` for one day into a DynamoDB Local started on a free port for the run."""
    from fraudstream.stack.manager import Stack
    from fraudstream.testing.engines import make_test_settings, settings_env

    settings = make_test_settings(work / "state")
    stack = Stack(settings)
    stack.up(only="dynamodb")
    try:
        result = measure(
            [str(BIN / "fraudstream"), "batch", "nightly", "--input", str(source), "--as-of", as_of],
            env=settings_env(settings),
            label="spark nightly",
        )
        summary = json.loads((settings.state_dir / "batch" / f"nightly-{as_of}.json").read_text())
        keys = ("cards", "written", "skipped", "failed", "duration_s", "compute_s", "load_s")
        result |= {k: summary[k] for k in keys if k in summary}
        return result
    finally:
        stack.down(only="dynamodb")


if __name__ == "__main__":
    main()
