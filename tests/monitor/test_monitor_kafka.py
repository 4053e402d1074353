"""The monitor against a real Kafka broker: late and out-of-order labels, a restart in the middle
(no double counting), bad records dead-lettered, /metrics parsing, drift of tenfold amounts flagged."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.kafka_clients import connected_producer
from fraudstream.messages import DeadLetter, encode
from fraudstream.model.reference import REFERENCE_KEY, input_reference
from fraudstream.monitor.config import MonitorSettings
from fraudstream.monitor.service import Monitor
from fraudstream.testing.models import free_port

from .records import label, prediction, wire

pytestmark = pytest.mark.integration


def produce(settings, records: list[tuple[str, bytes]]) -> None:
    producer = connected_producer(settings)
    for topic, value in records:
        producer.produce(topic, key=b"4300000000000001", value=value)
    assert producer.flush(10) == 0


def dead_letter(i: int) -> bytes:
    return encode(
        DeadLetter(
            stage="scorer",
            source_topic="cc-agg",
            partition=0,
            offset=i,
            error=f"amount: negative amount -{i}",
            payload="{}",
            failed_at=datetime.now(UTC),
        )
    )


def wait_for(monitor: Monitor, check, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = monitor.refresh()
        if check(snap):
            return snap
        time.sleep(0.3)
    raise AssertionError(f"monitor never reached the expected state: {snap['totals']}")


def start(settings, db: Path, model_dir: Path) -> Monitor:
    config = MonitorSettings(
        port=free_port(), db_path=db, model_dir=model_dir, refresh_s=0.5, group_id=f"mon-{db.parent.name}"
    )
    monitor = Monitor(settings, config)
    monitor.start()
    return monitor


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def write_reference_model(model_dir: Path) -> None:
    """A registry entry holding only what the monitor reads: the metadata with reference distributions."""
    rng = np.random.default_rng(3)
    refs = {"amount": input_reference(rng.lognormal(3.9, 0.3, 5000))}
    version = model_dir / "v-test"
    version.mkdir(parents=True)
    meta = {
        "version": "v-test",
        "feature_set": "anchor",
        "feature_names": ["amount"],
        "threshold": 0.5,
        "threshold_rule": "fixed",
        "training_window": {},
        "data_hash": "x",
        "created_at": "2020-01-01T00:00:00Z",
        REFERENCE_KEY: refs,
    }
    (version / "metadata.json").write_text(json.dumps(meta))
    (model_dir / "latest").symlink_to("v-test")


def test_join_restart_no_double_counting_and_metrics(isolated_topics, tmp_path) -> None:
    s = isolated_topics
    db, model_dir = tmp_path / "mon" / "monitor.sqlite", tmp_path / "models"
    write_reference_model(model_dir)
    now = datetime.now(UTC)
    rng = np.random.default_rng(5)
    normal = rng.lognormal(3.9, 0.3, 40)
    # first half: 20 predictions, labels for some (one before its prediction), 3 dead letters, one bad label
    first = [(s.topic_labels, wire(label(0, True, 1)))]
    first += [
        (s.topic_predictions, wire(prediction(i, 0.9 if i % 4 == 0 else 0.1, now, float(normal[i])))) for i in range(20)
    ]
    first += [(s.topic_labels, wire(label(i, i % 4 == 0, 2))) for i in range(1, 10)]
    first += [(s.topic_dead_letter, dead_letter(i)) for i in range(3)]
    first += [(s.topic_labels, b'{"tid": "broken"}')]
    produce(s, first)

    monitor = start(s, db, model_dir)
    try:
        snap = wait_for(monitor, lambda x: x["totals"] == {"predictions": 20, "labels": 10, "dead_letters": 4})
        # 3 from the scorer + the monitor's own for the bad label (published, then consumed back)
        q = snap["windows"]["5m"]["quality"]
        assert q["labelled"] == 10 and q["precision"] == 1.0 and q["recall"] == 1.0
        body = get(monitor.url + "metrics").decode()
        families = {f.name: f for f in text_string_to_metric_families(body)}
        assert "fraudstream_monitor_throughput_per_second" in families
        assert families["fraudstream_flink_job_running"].samples[0].value == 0  # the bridge: no job on these topics
        rejected = {
            s.labels["topic"]: s.value
            for s in families["fraudstream_monitor_rejected"].samples
            if s.name.endswith("_total")
        }
        assert rejected == {isolated_topics.topic_labels: 1.0}
        assert snap["drift"]["amount"]["drifted"] is False
    finally:
        monitor.stop()

    # while the monitor is down: the rest of the stream, a late correction, and amounts ten times normal
    second = [(s.topic_predictions, wire(prediction(i, 0.9, now, float(10 * normal[i])))) for i in range(20, 40)]
    second += [(s.topic_labels, wire(label(4, False, 10)))]  # correction: t4 was not fraud after all
    second += [(s.topic_labels, wire(label(i, True, 3))) for i in range(20, 40)]
    second += [(s.topic_dead_letter, dead_letter(9))]
    produce(s, second)

    monitor = start(s, db, model_dir)
    try:
        snap = wait_for(monitor, lambda x: x["totals"]["predictions"] == 40 and x["totals"]["dead_letters"] >= 5)
        time.sleep(1.0)
        snap = monitor.refresh()
        assert snap["totals"] == {"predictions": 40, "labels": 30, "dead_letters": 5}  # nothing applied twice
        q = snap["windows"]["5m"]["quality"]
        assert q["labelled"] == 30 and q["positives"] == 2 + 20  # t0, t8 (t4 corrected) + 20 new
        dead = snap["windows"]["1h"]["dead_letters"]
        assert {(d["stage"], d["count"]) for d in dead} == {("scorer", 4), ("monitor", 1)}
        assert snap["drift"]["amount"]["drifted"] is True
        figures = json.loads(get(monitor.url + "api/figures"))
        assert figures["latest_flagged"][0]["features"]["avg_amt_last_10m"] > 0
        assert b"fraudstream monitor" in get(monitor.url)
    finally:
        monitor.stop()


def test_serves_before_its_first_refresh_and_refreshes_at_once(isolated_topics, tmp_path, monkeypatch) -> None:
    """A monitor restarted over a large store answers its dashboard, JSON and readiness at once (the
    first refresh runs in its own thread), then shows real figures as soon as that refresh is done."""
    release = threading.Event()
    original = Monitor.refresh

    def slow_first_refresh(self):  # stands in for a first refresh over millions of stored rows
        release.wait(30)
        return original(self)

    monkeypatch.setattr(Monitor, "refresh", slow_first_refresh)
    config = MonitorSettings(port=free_port(), db_path=tmp_path / "m.db", model_dir=tmp_path / "models", refresh_s=600)
    monitor = Monitor(isolated_topics, config)  # next refresh in 10 min: only the first, immediate one can end warm-up
    monitor.start()
    try:
        url = monitor.url
        assert json.loads(get(url + "healthz")) == {"status": "ok"}
        early = json.loads(get(url + "api/figures"))
        assert early["warming_up"] is True
        assert early["windows"]["5m"]["predictions"] == 0
        assert get(url + "metrics")  # /metrics answers too
        release.set()
        deadline = time.monotonic() + 20
        while json.loads(get(url + "api/figures")).get("warming_up"):
            assert time.monotonic() < deadline, "the first refresh never replaced the warming-up snapshot"
            time.sleep(0.1)
    finally:
        release.set()
        monitor.stop()
