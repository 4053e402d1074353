"""A trivial Flink SQL job (PyFlink, Kafka SQL connector) runs on the local cluster; its output is read back."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.kafka_clients import consumer_config, producer_config
from fraudstream.settings import Settings
from fraudstream.stack.jars import kafka_connector_jar

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOB = Path(__file__).with_name("flink_sql_job.py")


def test_sql_job_reads_and_writes_kafka(isolated_topics: Settings, flink_rest: str) -> None:
    from urllib.parse import urlparse

    from confluent_kafka import Consumer, Producer

    settings = isolated_topics
    source, sink = settings.topic_transactions, settings.topic_agg
    producer = Producer(producer_config(settings))
    rows = [("4000000000000001", 5.0), ("4000000000000002", 20.0), ("4000000000000003", 30.5)]
    for cc_num, amount in rows:
        producer.produce(source, key=cc_num, value=json.dumps({"cc_num": cc_num, "amount": amount}))
    assert producer.flush(30) == 0

    rest = urlparse(flink_rest)
    job = subprocess.run(
        [sys.executable, str(JOB), rest.hostname, str(rest.port), settings.kafka_bootstrap, source, sink,
         str(kafka_connector_jar())],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-3000:]
    assert "job finished" in job.stdout

    consumer = Consumer(consumer_config("flink-sql-test", settings))
    consumer.subscribe([sink])
    out = []
    try:
        for _ in range(120):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append(json.loads(msg.value()))
            if len(out) == 2:
                break
    finally:
        consumer.close()
    assert sorted(out, key=lambda r: r["cc_num"]) == [
        {"cc_num": "4000000000000002", "doubled": 40.0},
        {"cc_num": "4000000000000003", "doubled": 61.0},
    ]


def test_cluster_has_taskmanager_and_connector(settings: Settings, flink_rest: str) -> None:
    from fraudstream.stack import flink

    info = flink.overview(flink_rest)
    assert info["taskmanagers"] >= 1 and info["slots-total"] >= 1
    if settings.flink_rest_override is None:  # our own cluster: exactly what the settings asked for
        assert info["taskmanagers"] == 1 and info["slots-total"] == settings.flink_task_slots
        assert (flink.flink_dir(settings) / "lib" / kafka_connector_jar().name).exists()


def test_taskmanager_heap_is_resident_from_the_start(settings: Settings, flink_rest: str) -> None:
    """The TaskManager touches its whole heap at start (-Xms = -Xmx, pre-touched), so a soak sees its
    working size from the first sample instead of a climb as G1 first writes committed pages."""
    import re

    import psutil

    from fraudstream.stack import flink

    if settings.flink_rest_override is not None:
        pytest.skip("a Flink cluster named by FRAUDSTREAM_FLINK_REST is not ours to inspect")
    home = str(flink.flink_dir(settings))
    runners = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any("TaskManagerRunner" in a for a in p.info["cmdline"] or []) and home in " ".join(p.info["cmdline"])
    ]
    assert len(runners) == 1
    cmdline = runners[0].info["cmdline"]
    assert "-XX:+AlwaysPreTouch" in cmdline
    (xmx,) = [int(m.group(1)) for a in cmdline if (m := re.fullmatch(r"-Xmx(\d+)", a))]
    assert runners[0].memory_info().rss >= xmx
