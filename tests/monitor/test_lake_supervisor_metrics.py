"""The lake archiver's and the supervisor's /metrics: served, parsed by the Prometheus text parser, and
counting what happened (files and bytes written, a failed flush; a restart and the service back up)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.lake import metrics as lake_metrics
from fraudstream.lake.archiver import LakeArchiver
from fraudstream.messages import Transaction, encode
from fraudstream.settings import Settings
from fraudstream.stack.ports import free_port
from fraudstream.stack.supervisor import Supervisor, supervised_processes

from .scrape import scrape, value


def _transactions(count: int) -> list[bytes]:
    day = datetime(2020, 1, 2, 12, tzinfo=UTC)
    return [
        encode(Transaction(tid=f"m{i}", cc_num="4000000000000001", amount=1.5, trans_time=day)) for i in range(count)
    ]


def test_archiver_metrics_are_served_and_count_files_bytes_and_errors(tmp_path: Path, monkeypatch) -> None:
    port = free_port()
    monkeypatch.setenv("FRAUDSTREAM_LAKE_METRICS_PORT", str(port))
    assert lake_metrics.serve_from_env() == port
    settings = Settings(lake_dir=str(tmp_path / "lake"))
    url = f"http://127.0.0.1:{port}/metrics"
    before = scrape(url)
    archiver = LakeArchiver(settings, lake_dir=str(tmp_path / "lake"))
    for offset, value_bytes in enumerate(_transactions(25)):
        archiver.add(settings.topic_transactions, 0, offset, value_bytes)
    archiver.flush()
    after = scrape(url)
    gained = {
        name: value(after, name, topic="transactions") - value(before, name, topic="transactions")
        for name in ("fraudstream_lake_records_total", "fraudstream_lake_files_total", "fraudstream_lake_bytes_total")
    }
    written = sum(p.stat().st_size for p in (tmp_path / "lake").rglob("*.parquet"))
    assert gained == {
        "fraudstream_lake_records_total": 25,
        "fraudstream_lake_files_total": 1,
        "fraudstream_lake_bytes_total": written,
    }

    (tmp_path / "blocked").write_text("a file where the lake's folder should be")
    broken = LakeArchiver(settings, lake_dir=str(tmp_path / "blocked"))
    broken.add(settings.topic_transactions, 0, 0, _transactions(1)[0])
    errors = value(after, "fraudstream_lake_errors_total")
    with pytest.raises(OSError):
        broken.flush()
    assert value(scrape(url), "fraudstream_lake_errors_total") == errors + 1


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_supervisor_counts_a_restart_and_shows_the_service_up(tmp_path: Path) -> None:
    # a port of its own: a developer's running stack holds the default clock metrics port
    settings = Settings(state_dir=str(tmp_path / "state"), clock_metrics_port=free_port())
    clock = next(p for p in supervised_processes(settings) if p.name == "clock")
    clock.pid_file.parent.mkdir(parents=True, exist_ok=True)
    clock.pid_file.write_text(json.dumps({"pid": _dead_pid(), "argv": ["sleep", "60"]}))
    supervisor = Supervisor(settings, report=lambda message: None)
    try:
        assert supervisor.check_once() == ["clock"]
        families = {f.name: f for f in text_string_to_metric_families(generate_latest(REGISTRY).decode())}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
        assert samples[("fraudstream_supervisor_restarts_total", (("outcome", "ok"), ("service", "clock")))] >= 1
        assert samples[("fraudstream_supervisor_service_up", (("service", "clock"),))] == 1
    finally:
        assert clock.stop()
