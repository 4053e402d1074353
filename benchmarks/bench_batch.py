"""Benchmark of the PySpark batch job on this machine, with DuckDB running the same SQL as a ratio.

Measures wall time, CPU seconds and peak memory (summed over the whole process tree: CLI, Spark
JVM, Python workers) of
* ``fraudstream batch training-set`` over the default 5.4M-row file,
* ``fraudstream batch nightly`` for one day (compute + parallel conditional load into DynamoDB
  Local, items/s of the load),
* the demo's batch stage (``demo.pipeline._batch``: one Spark session, nightly + training set),
and the same queries on DuckDB over the same file (the shared window/aggregate SQL, model inputs
as SQL ratios, Parquet by day), each in its own process, in one run. DynamoDB Local runs on free
ports in a temporary state dir. Writes ``benchmarks/results/batch.json`` and ``batch.png`` with the
issue-17 targets (training set <= 4x DuckDB, load >= 2,000 items/s, demo stage <= 45 s).

    nice -n 19 .venv/bin/python benchmarks/bench_batch.py [--input data/transactions.parquet] [--as-of 2020-05-15]
        [--out FILE.json]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from _common import ROOT, LoadSpan, Machine, figure, parser, write_report

BIN = Path(sys.executable).parent
TARGETS = {"training_set_ratio_max": 4.0, "nightly_load_items_per_s_min": 2000.0, "demo_batch_stage_s_max": 45.0}


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


def measure(cmd: list[str], env: dict[str, str] | None = None, label: str = "", keep_output: bool = False) -> dict:
    """Run ``cmd``: wall seconds, peak tree RSS and tree CPU seconds, sampled every 0.2 s. Raises on failure.

    CPU seconds make runs comparable when other work shares the machine (wall time does not).
    """
    print(f"[bench] {label}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    load = LoadSpan()
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
        **load.keys(),
    }
    print(f"[bench] {label}: {result}", file=sys.stderr, flush=True)
    if keep_output:
        result["output"] = output.decode(errors="replace")
    return result


# ------------------------------------------------------------------ DuckDB reference
DUCKDB_TRAINING = """
import sys, duckdb
from fraudstream import features as F
from fraudstream.batch.model_inputs import RATIOS
from fraudstream.batch.scope import DERIVED_INPUT_COLUMNS
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
raw = list(con.execute(f"SELECT * FROM read_parquet('{src}') LIMIT 0").fetchdf().columns)
con.execute(f"CREATE VIEW tx AS SELECT * REPLACE (CAST(amount AS {F.AMOUNT_SQL_TYPE}) AS amount) "
            f"FROM read_parquet('{src}')")
stream = F.stream_aggregate_select_sql("tx", passthrough=raw)
con.execute(f"CREATE TEMP TABLE streamed AS SELECT *, CAST(trans_time AS DATE) AS dt FROM ({stream})")
# every card window (1 / 7 / 30 days before the row's day), as the Spark training set has them
sums = ", ".join(f"SUM(n) OVER w{d} AS n{d}, SUM(s) OVER w{d} AS s{d}" for d in F.CARD_WINDOWS)
frames = ", ".join(f"w{d} AS (PARTITION BY cc_num ORDER BY dt RANGE BETWEEN INTERVAL {d} DAY PRECEDING "
                   f"AND INTERVAL 1 DAY PRECEDING)" for d in F.CARD_WINDOWS)
means = ", ".join(f"CASE WHEN n{d} > 0 THEN n{d} END AS {n}, "
                  f"CASE WHEN n{d} > 0 THEN CAST(s{d} AS DOUBLE) / n{d} END AS {m}"
                  for d, (n, m) in F.CARD_WINDOWS.items())
# the 30-day amount profile (merchant-risk-v4): deviation from sums of cents and squared cents, maximum
p = F.CARD_AMOUNT_PROFILE_DAYS
profile = (f"SUM(q) OVER w{p} AS q{p}, MAX(mx) OVER w{p} AS mx{p}")
std = (f"CASE WHEN n{p} > 0 THEN SQRT(CAST(n{p} * q{p} - c{p} * c{p} AS DOUBLE) / CAST(n{p} * n{p} AS DOUBLE)) / 100.0 "
       f"END AS {F.AMT_STD_LAST_30D}, CASE WHEN n{p} > 0 THEN CAST(mx{p} AS DOUBLE) END AS {F.MAX_AMT_LAST_30D}")
con.execute("CREATE TEMP TABLE windows AS WITH daily AS (SELECT cc_num, CAST(trans_time AS DATE) AS dt, "
            "COUNT(*) AS n, SUM(amount) AS s, SUM(CAST(amount * 100 AS HUGEINT)) AS c, "
            "SUM(CAST(amount * 100 AS HUGEINT) * CAST(amount * 100 AS HUGEINT)) AS q, MAX(amount) AS mx "
            f"FROM tx GROUP BY ALL), w AS (SELECT cc_num, dt, {sums}, SUM(c) OVER w{p} AS c{p}, {profile} "
            f"FROM daily WINDOW {frames}) SELECT cc_num, dt, {means}, {std} FROM w")
nightly = ", ".join(f"w.{c}" for c in (*F.BATCH_FEATURES, *F.CARD_WINDOW_FEATURES, *F.CARD_AMOUNT_PROFILE))
merchants = ", ".join(f"CAST(NULL AS {'DOUBLE' if 'risk' in m else 'BIGINT'}) AS {m}"
                      for m in F.MERCHANT_FEATURES)  # the input has no merchants: NULL, as in Spark
ratios = ", ".join([*(f"CAST({a} AS DOUBLE) / NULLIF(CAST({b} AS DOUBLE), 0) AS {r}"
                     for r, (a, b) in RATIOS.items() if r in DERIVED_INPUT_COLUMNS),
                   *(f"(CAST(amount AS DOUBLE) - {m}) / NULLIF({d}, 0) AS {z}"
                     for z, (m, d) in F.CARD_AMOUNT_ZSCORES.items())])
con.execute(f"COPY (SELECT * EXCLUDE (dt), {ratios}, dt FROM (SELECT s.* EXCLUDE (dt), {nightly}, {merchants}, s.dt "
            f"FROM streamed s LEFT JOIN windows w USING (cc_num, dt))) "
            f"TO '{out}' (FORMAT PARQUET, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)")
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


DEMO_BATCH_STAGE = """
import json, sys
from pathlib import Path
from rich.console import Console
from fraudstream.demo.pipeline import DemoOptions, _batch
from fraudstream.demo.stages import StageLog
from fraudstream.settings import get_settings
data, training = Path(sys.argv[1]), Path(sys.argv[2])
console = Console(stderr=True)
log = StageLog(console, 1)
_batch(log, DemoOptions(data=data, training_dir=training), data, training, get_settings(), console)
print(json.dumps({"stage_s": log.records[0].seconds, "status": log.records[0].status, "detail": log.records[0].detail}))
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
    cli = parser(__doc__, "batch.json")
    cli.add_argument("--input", default=str(ROOT / "data" / "transactions.parquet"))
    cli.add_argument("--as-of", default="2020-05-15")
    cli.add_argument("--skip-nightly", action="store_true", help="no DynamoDB Local run")
    args = cli.parse_args()
    machine = Machine()

    source = Path(args.input)
    if not source.exists():
        print(f"[bench] generating {source} (default 5.4M rows)", file=sys.stderr)
        subprocess.run([str(BIN / "fraudstream"), "generate", "--out", str(source)], check=True)

    import pyarrow.parquet as pq

    rows = pq.ParquetFile(source).metadata.num_rows
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    results: dict = {"benchmark": "batch", "input": str(source), "input_rows": rows}
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
            results["demo_batch_stage"] = bench_demo_stage(source, work)
        spark_ts, duck_ts = results["spark_training_set"]["wall_s"], results["duckdb_training_set"]["wall_s"]
        results["ratio_training_set_spark_over_duckdb"] = round(spark_ts / duck_ts, 2)
        results["cpu_ratio_training_set_spark_over_duckdb"] = round(
            results["spark_training_set"]["cpu_s"] / max(results["duckdb_training_set"]["cpu_s"], 0.1), 2
        )
        if "spark_nightly" in results:
            results["ratio_nightly_spark_over_duckdb_compute"] = round(
                results["spark_nightly"]["wall_s"] / results["duckdb_nightly_compute"]["wall_s"], 2
            )
        results["targets"] = check_targets(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"] = machine.block()
    write_report(args.out, results, plot=lambda png: plot(results, png))
    print(json.dumps(results, indent=2))


def check_targets(results: dict) -> dict:
    """Each issue-17 target with the measured value and whether it is met."""
    out = {
        "training_set_ratio": {
            "value": results["ratio_training_set_spark_over_duckdb"],
            "max": TARGETS["training_set_ratio_max"],
        }
    }
    if "spark_nightly" in results:
        out["nightly_load_items_per_s"] = {  # the store's engine has been up before (see bench_nightly)
            "value": results["spark_nightly"]["next_night"].get("load_items_per_s"),
            "cold_engine": results["spark_nightly"].get("load_items_per_s"),
            "min": TARGETS["nightly_load_items_per_s_min"],
        }
        out["demo_batch_stage_s"] = {
            "value": results["demo_batch_stage"]["stage_s"],
            "max": TARGETS["demo_batch_stage_s_max"],
        }
    for target in out.values():
        value = target["value"]
        target["met"] = value is not None and (value <= target["max"] if "max" in target else value >= target["min"])
    return out


def plot(results: dict, path: Path) -> None:
    """Bars of wall and CPU seconds per run, and the targets' values against their bounds."""
    runs = [
        k for k in ("spark_training_set", "duckdb_training_set", "spark_nightly", "demo_batch_stage") if k in results
    ]
    with figure(path, 1, 2, figsize=(12, 4.5)) as (_, (left, right)):
        xs = range(len(runs))
        left.bar([x - 0.2 for x in xs], [results[r]["wall_s"] for r in runs], 0.4, label="wall s")
        left.bar([x + 0.2 for x in xs], [results[r]["cpu_s"] for r in runs], 0.4, label="CPU s (process tree)")
        left.set_xticks(list(xs), [r.replace("_", "\n", 1) for r in runs])
        load = results["machine"]["load_avg_1m_start"]
        left.set_title(f"batch on {results['input_rows']:,} rows (load {load:.1f} at start)")
        left.legend()
        targets = results.get("targets", {})
        names = list(targets)
        ratios = [(t["value"] or 0) / t.get("max", t.get("min")) for t in targets.values()]
        colours = ["tab:green" if t["met"] else "tab:red" for t in targets.values()]
        right.barh(names, ratios, color=colours)
        right.axvline(1.0, color="black", linestyle="--")
        for i, t in enumerate(targets.values()):
            bound = f"<= {t['max']}" if "max" in t else f">= {t['min']}"
            right.text(ratios[i], i, f" {t['value']} ({bound})", va="center")
        right.set_title("issue-17 targets: value / bound (green = met)")


def bench_nightly(source: Path, as_of: str, work: Path) -> dict:
    """``batch nightly`` into a DynamoDB Local started on a free port: ``as_of`` (a cold engine) and
    then the next night (every card rewritten, newer ``as_of``), as a long-running store sees it.

    DynamoDB Local's JIT makes the first 10,000 writes of a fresh engine cost ~4x the CPU of later
    ones (12 against 3 CPU s for 10,000 conditional puts in transactions of 100), so both are kept.
    """
    from datetime import date, timedelta

    from fraudstream.stack.manager import Stack
    from fraudstream.testing.engines import make_test_settings, settings_env

    settings = make_test_settings(work / "state")
    stack = Stack(settings)
    stack.up(only="dynamodb")
    runs = {}
    try:
        next_day = (date.fromisoformat(as_of) + timedelta(days=1)).isoformat()
        for key, day in (("cold_engine", as_of), ("next_night", next_day)):
            result = measure(
                [str(BIN / "fraudstream"), "batch", "nightly", "--input", str(source), "--as-of", day],
                env=settings_env(settings),
                label=f"spark nightly {day}",
            )
            summary = json.loads((settings.state_dir / "batch" / f"nightly-{day}.json").read_text())
            keys = ("cards", "cards_expired", "written", "skipped", "failed", "duration_s", "compute_s", "load_s")
            result |= {k: summary[k] for k in keys if k in summary}
            # load_s covers every group's load (1-week, card windows, merchants): count all their items
            groups = [summary] + [v for k, v in summary.items() if k.endswith("_load") and isinstance(v, dict)]
            loaded = sum(g.get("written", 0) + g.get("skipped", 0) for g in groups)
            result["items_loaded"] = loaded
            result["load_items_per_s"] = round(loaded / summary["load_s"]) if summary.get("load_s") else None
            runs[key] = result
        return runs["cold_engine"] | {"next_night": runs["next_night"]}
    finally:
        stack.down(only="dynamodb")


def bench_demo_stage(source: Path, work: Path) -> dict:
    """The demo's "nightly batch + training set" stage as the demo runs it, on a fresh DynamoDB Local."""
    from fraudstream.stack.manager import Stack
    from fraudstream.testing.engines import make_test_settings, settings_env

    settings = make_test_settings(work / "demo-state")
    stack = Stack(settings)
    stack.up(only="dynamodb")
    script = work / "demo_stage.py"
    script.write_text(textwrap.dedent(DEMO_BATCH_STAGE))
    try:
        result = measure(
            [sys.executable, str(script), str(source), str(work / "demo-training")],
            env=settings_env(settings),
            label="demo batch stage",
            keep_output=True,
        )
        result |= json.loads(result.pop("output").strip().splitlines()[-1])
        return result
    finally:
        stack.down(only="dynamodb")


if __name__ == "__main__":
    main()
