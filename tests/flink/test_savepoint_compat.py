"""A savepoint of the cc-agg job as it was before ``merchant`` passed through restores in today's job.

The window function's per-card state is what a savepoint holds; a changed state type makes Flink
refuse the restore (``StateMigrationException``), so an upgrade of the deployed job would have to
drop its state. The job of commit ``BEFORE_MERCHANT`` (its SQL and its Java function, from git)
runs first, stops with a savepoint, and the current job resumes from it: the card's earlier rows
still count, and the new rows carry their merchant.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.clock import StreamClock
from fraudstream.streaming.submit import stop_job, submit_job
from fraudstream.streaming.testkit import Tx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BEFORE_MERCHANT = "aa2abdc"
"""The last commit whose job did not carry ``merchant`` (its ``CardWindow`` had one state entry)."""
REPO = Path(__file__).resolve().parents[2]


def old_source(out: Path) -> Path:
    """``src/`` of ``BEFORE_MERCHANT`` under ``out`` (skips when the checkout has no such history)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BEFORE_MERCHANT, "src"], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"git history without {BEFORE_MERCHANT}: {archive.stderr.decode()[-200:]}")
    out.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out / "src"


def test_a_savepoint_of_the_job_before_merchant_restores(
    settings: Settings, kafka_bootstrap: str, flink_rest: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = old_source(tmp_path / "old")
    jar = tmp_path / "old-udf.jar"
    build = f"from pathlib import Path; from fraudstream.streaming.udf import build_jar; build_jar(Path({str(jar)!r}))"
    subprocess.run([sys.executable, "-c", build], env={**os.environ, "PYTHONPATH": str(src)}, check=True)

    run = testkit.job_settings(settings, "compat", flink_checkpoint_interval_ms=2_000, flink_watermark_delay_ms=200)
    card, base = "3333000000000001", datetime(2020, 3, 1, 22, tzinfo=UTC)
    before = [Tx(f"old-{i}", card, 10.0, base + timedelta(minutes=i)) for i in range(3)]
    after = [Tx(f"new-{i}", card, 20.0, base + timedelta(minutes=3 + i), merchant="m-1") for i in range(2)]
    with StreamClock(run, interval_ms=20):
        with monkeypatch.context() as old:  # the job client imports the old package, with the old jar
            old.setenv("PYTHONPATH", str(src))
            submit_job(run.model_copy(update={"flink_udf_jar": jar}))
        testkit.produce(run, before)
        first = testkit.consume(run, run.topic_agg, testkit.has_tids([t.tid for t in before]), timeout=120)
        assert all("merchant" not in r["value"] for r in first)
        stopped = stop_job(run, savepoint=True)
        testkit.produce(run, after)
        submit_job(run, from_savepoint=stopped["savepoint"])
        try:
            records = testkit.consume(run, run.topic_agg, testkit.has_tids([t.tid for t in after]), timeout=120)
        finally:
            stop_job(run)
    got = {tid: values[0] for tid, values in testkit.by_tid(records).items()}
    assert [got[t.tid]["num_trans_last_10m"] for t in after] == [4, 5]  # the old job's rows are in the windows
    assert [got[t.tid]["avg_amt_last_10m"] for t in after] == [(30 + 20) / 4, (30 + 40) / 5]
    assert [got[t.tid]["merchant"] for t in after] == ["m-1", "m-1"]
