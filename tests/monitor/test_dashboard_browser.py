"""The dashboard in a real browser (headless Chromium from the system packages), fed by real Kafka
traffic through the monitor: every panel must show data; a screenshot is kept as a test artefact."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraudstream.monitor.config import MonitorSettings
from fraudstream.monitor.service import Monitor
from fraudstream.streaming import testkit
from fraudstream.testing.models import free_port

from .records import label, prediction, wire
from .test_monitor_kafka import dead_letter, produce, wait_for, write_reference_model

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ARTEFACT = ROOT / "reports" / "test-artifacts" / "dashboard.png"  # reports/ is git-ignored
PANELS = (
    "throughput", "latency", "freshness", "flagged", "series", "quality", "drift", "deadletters", "flink", "latest",
)  # fmt: skip


def browse(chromium: str, url: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--virtual-time-budget=6000", "--window-size=1400,1100", *args, url]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def start_monitor(settings, db: Path, model_dir: Path) -> Monitor:
    """A monitor whose Flink bridge polls every second (the default 10 s would only slow the test)."""
    config = MonitorSettings(
        port=free_port(), db_path=db, model_dir=model_dir, refresh_s=0.5, group_id=f"mon-{db.parent.name}",
        flink_poll_s=1.0, flink_dead_letter_poll_s=2.0,
    )  # fmt: skip
    monitor = Monitor(settings, config)
    monitor.start()
    return monitor


def flink_has_figures(snap: dict) -> bool:
    f = snap["flink"]
    return bool(
        f and f["job_running"] and f["records_in"] and f["records_out"] and f["backpressure"] and f["invalid_records"]
    )  # both counts: Flink lists a vertex's metrics only once reported, out may be complete while in is 0


def test_every_panel_shows_live_data(isolated_topics, flink_rest, tmp_path, chromium) -> None:
    s = testkit.job_settings(isolated_topics, "dash")  # topics of its own for the cc-agg job the Flink panel shows
    model_dir = tmp_path / "models"
    write_reference_model(model_dir)
    now = datetime.now(UTC)
    records = [
        (s.topic_predictions, wire(prediction(i, 0.95 if i % 5 == 0 else 0.05, now, 40.0 + i))) for i in range(60)
    ]
    records += [(s.topic_labels, wire(label(i, i % 5 == 0, 1))) for i in range(0, 60, 2)]
    records += [(s.topic_dead_letter, dead_letter(i)) for i in range(2)]
    produce(s, records)
    monitor = start_monitor(s, tmp_path / "mon" / "monitor.sqlite", model_dir)
    try:
        with testkit.running_job(s):  # the stream clock's heartbeats are records in
            testkit.produce(s, [testkit.Tx(f"tx-{i}", "4300000000000002", 10.0 + i, now) for i in range(5)])
            testkit.produce_raw(s, [b"not a transaction"])  # the job dead-letters it as invalid
            wait_for(monitor, flink_has_figures, timeout=180)  # the job's start takes long on a loaded machine
            wait_for(monitor, lambda x: x["totals"]["predictions"] == 60 and x["totals"]["dead_letters"] == 3)
            shoot(chromium, monitor)
    finally:
        monitor.stop()


def dump_dom(chromium: str, monitor: Monitor) -> str:
    """The page as the browser rendered it, once every panel says it has data."""
    dom = browse(chromium, monitor.url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-500:]
    html = dom.stdout
    for panel in PANELS:
        match = re.search(rf'id="panel-{panel}"[^>]*data-state="(\w+)"', html)
        assert match and match.group(1) == "ready", f"panel {panel} shows no data"
    return html


def screenshot(chromium: str, monitor: Monitor, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = browse(chromium, monitor.url, f"--screenshot={path}")
    assert shot.returncode == 0 and path.stat().st_size > 10_000, shot.stderr[-500:]


def shoot(chromium: str, monitor: Monitor) -> None:
    """Load the page, assert every panel has data, keep a screenshot."""
    html = dump_dom(chromium, monitor)
    assert re.search(r'id="throughput">[1-9][\d.]* /s<', html) or re.search(r'id="throughput">0\.[0-9]*[1-9]', html)
    assert re.search(r'<tbody id="drift"><tr><td[^>]*>amount</td>', html)
    assert "<polyline" in html  # the per-minute charts are drawn
    assert re.search(r'id="flink">in [1-9]\d* · out [1-9]\d*<', html) and "invalid 1" in html
    assert 'id="freshness-sub">1 week: 20.0 h<' in html  # scored_at - batch_as_of of the predictions
    assert html.count("<tr>") >= 12 + 4  # flagged rows (12 of 60) + drift + dead-letter rows + headers
    screenshot(chromium, monitor, ARTEFACT)
