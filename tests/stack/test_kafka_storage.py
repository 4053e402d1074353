"""Kafka storage is formatted once and kept across restarts; ``fresh`` wipes it."""

from pathlib import Path

import pytest

from fraudstream.settings import Settings
from fraudstream.stack import kafka

pytestmark = pytest.mark.integration  # runs Kafka's StorageTool (a JVM), no broker


def _cluster_id(settings: Settings) -> str:
    meta = (kafka.kafka_dir(settings) / "data" / "meta.properties").read_text()
    return next(line.split("=", 1)[1] for line in meta.splitlines() if line.startswith("cluster.id="))


def test_format_once_then_keep_then_fresh(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_port=39092, kafka_controller_port=39093)
    kafka.prepare(settings)
    first = _cluster_id(settings)
    marker = kafka.kafka_dir(settings) / "data" / "transactions-0"
    marker.mkdir()

    kafka.prepare(settings)  # a restart: same storage, same cluster id, data kept
    assert _cluster_id(settings) == first and marker.is_dir()

    kafka.prepare(settings, fresh=True)
    assert _cluster_id(settings) != first and not marker.exists()


def test_server_properties_bind_to_host_and_ports() -> None:
    settings = Settings(host="127.0.0.1", kafka_port=1111, kafka_controller_port=2222, partitions=6)
    props = dict(line.split("=", 1) for line in kafka.server_properties(settings).splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1111,CONTROLLER://127.0.0.1:2222"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:2222"
    assert props["num.partitions"] == "6"
    assert props["process.roles"] == "broker,controller"
