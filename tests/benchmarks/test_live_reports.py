"""Unit tests of what the live-pipeline benchmarks (latency, chaos, soak) compute and write, without
running them (they take minutes and a whole stack): their report functions on made-up figures, the
result files through ``_common.write_report``, and ``_live``'s process meters on this process."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scripts():
    """The scripts as modules: they import each other by plain name (``from _common import ...``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _common
        import _live
        import bench_chaos
        import bench_latency
        import bench_soak

        yield {"common": _common, "live": _live, "latency": bench_latency, "chaos": bench_chaos, "soak": bench_soak}
    finally:
        sys.path.remove(str(BENCHMARKS))


def _rate(rate: float, *, missing: int = 0, drain: float = 0.1, caught_up: float | None = 1.0) -> dict:
    stats = {"p50": 20.0, "p99": 40.0, "max": 50.0, "n": 10}
    return {
        "rate_target": rate,
        "missing": missing,
        "drain_after_last_send_s": drain,
        "agg_writer": {"caught_up_s_after_last_send": caught_up},
        "e2e_ms": stats,
        "hops_ms": {"kafka_in": stats, "flink": {"p50": None, "p99": None, "max": None, "n": 0}},
        "e2e_ms_per_second": [{"second": 0, **stats}, {"second": 1, **stats}],
    }


def test_latency_sustained_rates_need_every_verdict_and_a_caught_up_store(scripts):
    results = [
        _rate(20),
        _rate(1000, caught_up=4.9),
        _rate(2000, missing=1),
        _rate(3000, drain=2.5),
        _rate(4000, caught_up=None),  # the agg-writer never caught up
        _rate(5000, caught_up=5.0),
    ]
    assert scripts["latency"].sustained_rates(results) == [20, 1000]


def test_latency_stats_keep_the_quoted_keys(scripts):
    stats = scripts["latency"]._stats([10.0, 20.0, 30.0])
    assert stats == {"p50": 20.0, "p99": 29.8, "max": 30.0, "n": 3}
    assert scripts["latency"]._stats([])["p50"] is None  # JSON null, not NaN


def test_latency_report_is_written_with_its_figure(scripts, tmp_path):
    common, latency = scripts["common"], scripts["latency"]
    results = [_rate(20), _rate(1000)]
    out = tmp_path / "latency.json"
    payload = {"benchmark": "latency", "rates": results, "machine": common.Machine().block()}
    png = common.write_report(out, payload, plot=lambda path: latency.plot(results, path))
    assert json.loads(out.read_text())["rates"][1]["e2e_ms"]["p99"] == 40.0
    assert png.read_bytes()[:8] == PNG


def test_chaos_window_counts_what_was_sent_in_it(scripts, tmp_path):
    from fraudstream.testing.chaos import DeliveryCheck

    chaos, common = scripts["chaos"], scripts["common"]
    # three sent before the fault at t=10, two in its window; "b" never predicted, "d" the first back
    sent_at = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 11.0, "e": 12.0}
    got = {"a": ({}, 1.02), "c": ({}, 3.5), "d": ({}, 14.0), "e": ({}, 14.1)}
    check = DeliveryCheck(sent=set(sent_at), missing={"b"}, duplicates_identical={"a", "e"})
    before = chaos.window_report("none", 0.0, 10.0, sent_at, got, check)
    window = chaos.window_report("kafka", 10.0, float("inf"), sent_at, got, check)
    assert before["fault"] == "none" and before["recovery_s"] == 1.02
    assert (before["sent"], before["predicted"], before["missing"], before["duplicates_identical"]) == (3, 2, 1, 1)
    assert (window["sent"], window["missing"], window["duplicates_identical"]) == (2, 0, 1)
    assert window["recovery_s"] == 4.0  # fault → first prediction of a transaction sent after it
    # during = sent before the pipeline was back (14.0): "d" (3,000 ms) and "e" (2,100 ms); none after
    assert window["latency_during_ms"] == {"p50": 2550.0, "p99": 2991.0, "max": 3000.0, "n": 2}
    assert window["latency_after_ms"]["n"] == 0
    windows = [{**before, "duplicates_identical": 2, "duplicates_differing": 0},
               {**window, "duplicates_identical": 0, "duplicates_differing": 0}]  # fmt: skip
    png = tmp_path / "chaos.png"
    chaos.plot(png, 0.0, sent_at, got, [("kafka", 10.0)], windows)
    assert png.read_bytes()[:8] == PNG
    common.write_report(tmp_path / "chaos.json", {"benchmark": "chaos", "faults": windows,
                                                  "machine": common.Machine().block()})  # fmt: skip


def _sample(t: float, rss: float, lag: int, checkpoints: float) -> dict:
    return {"t": t, "rss_mib": {"kafka": rss, "benchmark": 100.0}, "lag": {"agg-writer": lag, "fraud-scorer": 0},
            "kafka_disk_mib": t, "checkpoint_disk_mib": checkpoints, "load_avg_1m": 1.0}  # fmt: skip


def test_soak_verdicts(scripts, tmp_path):
    soak = scripts["soak"]
    # 10 samples: the first 2 are warm-up (RSS 50, ignored), then 100 with one 115 (15 % over the median)
    samples = [_sample(i, 50.0 if i < 2 else (115.0 if i == 7 else 100.0), 10 * i, 5.0) for i in range(10)]
    v = soak.verdicts(samples, rate=10)
    assert v["rss"]["kafka"] == {"median_mib": 100.0, "max_dev_pct": 15.0, "flat": False}
    assert v["rss"]["benchmark"]["flat"] is True
    assert v["max_lag"] == {"agg-writer": 90, "fraud-scorer": 0}
    assert v["lag_bounded"] is False  # 90 > 10 tx/s x 5 s
    # after warm-up the lag climbs 20 -> 90: halves' means 35 and 75, up by more than half and a second
    assert v["lag_trend"]["agg-writer"] == {
        "mean_first_half": 35.0, "mean_second_half": 75.0, "max_after_warmup": 90, "growing": True
    }  # fmt: skip
    assert v["lag_growing"] is True
    steady = soak.verdicts([_sample(i, 100.0, 60 + 30 * (i % 2), 5.0) for i in range(10)], rate=10)
    assert steady["lag_bounded"] is False and steady["lag_growing"] is False  # high but flat
    assert v["checkpoints_bounded"] is True
    assert soak.verdicts([_sample(i, 100.0, 0, 5.0 if i < 5 else 20.0) for i in range(10)], 10)[
        "checkpoints_bounded"
    ] is False  # fmt: skip
    png = tmp_path / "soak.png"
    soak.plot(png, samples)
    assert png.read_bytes()[:8] == PNG


def test_live_meters_read_this_process(scripts):
    live = scripts["live"]
    rss = live.rss_mib(os.getpid())
    assert rss is not None and rss > 1
    meter = live.CpuMeter({"me": os.getpid()})
    end = time.process_time() + 0.3
    while time.process_time() < end:  # keep one core busy for 0.3 s of CPU
        pass
    cores = meter.cores()
    assert 0.3 <= cores["me"] <= 1.5 and cores["all"] == cores["me"]


def test_live_meters_of_a_gone_process(scripts):
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    live = scripts["live"]
    assert live.rss_mib(proc.pid) is None
    assert live.cpu_seconds({"gone": proc.pid}) == {"gone": 0.0}


def test_live_cpu_of_a_child_counts_unless_it_is_measured_on_its_own(scripts):
    import subprocess

    live = scripts["live"]
    busy = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\n"
    busy += "print(flush=True)\ntime.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", busy], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # the child has burnt its 0.5 s of CPU and sleeps
        with_child = live.cpu_seconds({"me": os.getpid()})["me"]
        apart = live.cpu_seconds({"me": os.getpid(), "child": child.pid})
        assert apart["child"] >= 0.45
        assert with_child - apart["me"] >= 0.4  # the child's CPU moved from "me" to "child"
    finally:
        child.kill()
        child.wait()
