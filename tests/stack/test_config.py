"""Pure pieces of the stack: service selection, Flink config layout, external engines."""

from pathlib import Path

import pytest
import yaml

from fraudstream.settings import Settings
from fraudstream.stack import flink
from fraudstream.stack.errors import StackError
from fraudstream.stack.manager import Stack, parse_only


def test_parse_only_keeps_start_order_and_rejects_unknown() -> None:
    assert parse_only(None) == ["kafka", "dynamodb", "flink"]
    assert parse_only("flink, kafka") == ["kafka", "flink"]
    with pytest.raises(StackError, match="unknown service.*zookeeper"):
        parse_only("kafka,zookeeper")


def test_nest_and_flatten_round_trip() -> None:
    flat = {"rest.port": 1, "rest.address": "h", "taskmanager.memory.process.size": "1g"}
    nested = {"rest": {"port": 1, "address": "h"}, "taskmanager": {"memory": {"process": {"size": "1g"}}}}
    assert flink.nest(flat) == nested
    assert flink.flatten(flink.nest(flat)) == flat
    with pytest.raises(ValueError, match="clashes"):
        flink.nest({"a": 1, "a.b": 2})
    with pytest.raises(ValueError, match="clashes"):
        flink.nest({"a.b": 2, "a": 1})


def test_flink_config_uses_settings_and_state_dir(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, flink_rest_port=1234, flink_rpc_port=2345, flink_task_slots=3)
    flink.prepare(settings)
    conf = flink.flatten(yaml.safe_load((tmp_path / "flink" / "conf" / "config.yaml").read_text()))
    assert conf["rest.port"] == 1234 and conf["jobmanager.rpc.port"] == 2345
    assert conf["rest.bind-address"] == "127.0.0.1" and conf["taskmanager.bind-host"] == "127.0.0.1"
    assert conf["taskmanager.numberOfTaskSlots"] == 3
    assert conf["execution.checkpointing.dir"] == (tmp_path / "flink" / "checkpoints").as_uri()
    assert conf["python.executable"].endswith("python") or "python" in conf["python.executable"]
    assert "--add-opens" in conf["env.java.opts.all"]  # the distribution's JVM options are kept
    lib = {p.name for p in (tmp_path / "flink" / "lib").iterdir()}
    assert any(name.startswith("flink-dist-") for name in lib)
    assert any(name.startswith("flink-sql-connector-kafka") for name in lib)


def test_overridden_addresses_are_external(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path).model_copy(
        update={
            "kafka_bootstrap_override": "broker:9092",
            "flink_rest_override": "http://flink:8081",
            "aws_endpoint_override": None,
        }
    )
    stack = Stack(settings)
    assert stack.external_engines() == {"kafka", "flink"}
    rows = {row.name: row for row in stack.status()}
    assert rows["kafka"].state == "external" and rows["kafka"].address == "broker:9092"
    assert rows["dynamodb"].state == "stopped"
