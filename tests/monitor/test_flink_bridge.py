"""The Flink bridge: the monitor's /metrics shows a real running cc-agg job's records in/out, late and
invalid rows, checkpoints and backpressure; Flink down (or no job) is tolerated and said so."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.monitor.config import MonitorSettings
from fraudstream.monitor.flink_bridge import FlinkBridge
from fraudstream.monitor.service import Monitor
from fraudstream.streaming import testkit
from fraudstream.streaming.testkit import Tx
from fraudstream.testing.engines import make_test_settings
from fraudstream.testing.models import free_port

from .scrape import scrape, value

CARDS, PER_CARD = 20, 10
LATE_CARD = "3333000000000001"
MALFORMED = [b"not json at all", b'{"tid": "no-card", "amount": 5.0, "trans_time": "2020-03-01T22:00:00.000Z"}']


def test_flink_down_says_so_and_shows_no_job_figures(tmp_path):
    settings = make_test_settings(tmp_path)  # free ports: nothing listens on its Flink REST port
    bridge = FlinkBridge(settings, timeout_s=2.0)
    assert bridge.poll().up is False
    registry = CollectorRegistry()
    registry.register(bridge)
    samples = {
        s.name: s.value for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples
    }
    assert samples == {"fraudstream_flink_up": 0.0, "fraudstream_flink_job_running": 0.0}


def rows(base: datetime) -> tuple[list[Tx], Tx]:
    """``CARDS`` x ``PER_CARD`` transactions in time order, then a card whose third row is 9 min late."""
    out = [
        Tx(f"b-{c}-{i}", f"33330000000001{c:02d}", 10.0 + i, base + timedelta(seconds=30 * i + c))
        for i in range(PER_CARD)
        for c in range(CARDS)
    ]
    out += [Tx("late-0", LATE_CARD, 1.0, base), Tx("late-1", LATE_CARD, 2.0, base + timedelta(minutes=10))]
    return out, Tx("late-2", LATE_CARD, 3.0, base + timedelta(minutes=1))


def total(settings, topic: str) -> int:
    return sum(testkit.end_offsets(settings, topic).values())


def wait_for(url: str, ready, timeout: float = 300.0) -> dict[str, list]:
    deadline = time.monotonic() + timeout
    samples = scrape(url)
    while not ready(samples):
        assert time.monotonic() < deadline, (
            f"bridge never got there: { {k: [s.value for s in v] for k, v in samples.items() if 'flink' in k} }"
        )
        time.sleep(1)
        samples = scrape(url)
    return samples


@pytest.mark.integration
@pytest.mark.slow
def test_monitor_metrics_show_a_running_job(settings, kafka_bootstrap, flink_rest, tmp_path):
    run = testkit.job_settings(settings, "bridge", flink_checkpoint_interval_ms=2_000, flink_watermark_delay_ms=500)
    config = MonitorSettings(
        port=free_port(), db_path=tmp_path / "monitor.sqlite", model_dir=tmp_path, flink_poll_s=1.0,
        flink_dead_letter_poll_s=2.0, group_id="mon-bridge",
    )  # fmt: skip
    monitor = Monitor(run, config)
    monitor.start()
    url = monitor.url + "metrics"
    valid, late = rows(datetime.now(UTC) - timedelta(hours=1))
    try:
        with testkit.running_job(run):
            testkit.produce(run, [*valid, late])
            testkit.produce_raw(run, MALFORMED, partition=0)
            samples = wait_for(
                url,
                lambda s: (
                    value(s, "fraudstream_flink_records_out_total") >= len(valid)
                    # Flink lists a vertex's metrics only once reported: the source's may come later
                    and value(s, "fraudstream_flink_records_in_total") >= len(valid) + 1 + len(MALFORMED)
                    and value(s, "fraudstream_flink_late_records") >= 1
                    and value(s, "fraudstream_flink_invalid_records") >= len(MALFORMED)
                    and value(s, "fraudstream_flink_checkpoints_total", outcome="completed") >= 1
                ),
            )
            assert value(samples, "fraudstream_flink_up") == value(samples, "fraudstream_flink_job_running") == 1
            # out: one aggregate per valid row, exactly what is on cc-agg; in: every row (and heartbeats) read
            assert value(samples, "fraudstream_flink_records_out_total") == len(valid) == total(run, run.topic_agg)
            records_in = value(samples, "fraudstream_flink_records_in_total")
            assert len(valid) + 1 + len(MALFORMED) <= records_in <= total(run, run.topic_transactions)
            assert value(samples, "fraudstream_flink_late_records") == 1
            assert value(samples, "fraudstream_flink_invalid_records") == len(MALFORMED)
            assert 0 <= value(samples, "fraudstream_flink_checkpoint_age_seconds", default=-1) < 60
            pressure = samples["fraudstream_flink_backpressure_ratio"]
            assert pressure and all(0 <= s.value <= 1 for s in pressure)
        # the job is stopped: the bridge says so and drops its figures (Flink itself is still up)
        samples = wait_for(url, lambda s: value(s, "fraudstream_flink_job_running", default=-1) == 0, timeout=30)
        assert value(samples, "fraudstream_flink_up") == 1
        assert "fraudstream_flink_records_in_total" not in samples
    finally:
        monitor.stop()


def test_vertex_labels_are_bounded_and_unique():
    from fraudstream.monitor.flink_bridge import MAX_VERTEX_CHARS, vertex_label

    long = "Sink: Writer -> " + "x" * 200
    taken: dict[str, float] = {}
    for name in (long, long + "y", "Source: transactions"):
        taken[vertex_label({"id": "v", "name": name}, taken)] = 0.0
    assert len(taken) == 3
    assert all(len(label) <= MAX_VERTEX_CHARS + 4 for label in taken)
