"""tests/compose/offline/compose.offline.yml checked without a Docker engine.

The offline run (make compose-test) proves docker-compose.yml only if the override changes nothing
but what a machine without a registry or bridge network needs: every service on the host network
with the service names on loopback, nothing published, nothing pulled, servers bound to
127.0.0.1 on ports off the defaults (which a local stack or benchmark on the same host holds).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = ROOT / "tests/compose/offline"


class _ResetLoader(yaml.SafeLoader):
    """Reads compose's ``!reset`` tag as the value it resets to."""


_ResetLoader.add_constructor("!reset", lambda loader, node: loader.construct_sequence(node))
_ResetLoader.add_constructor("!override", lambda loader, node: loader.construct_sequence(node))


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


@pytest.fixture(scope="module")
def offline() -> dict[str, Any]:
    return yaml.load((OFFLINE / "compose.offline.yml").read_text(), Loader=_ResetLoader)["services"]


def test_every_service_is_overridden_for_the_host_network(base: dict[str, Any], offline: dict[str, Any]) -> None:
    text = (OFFLINE / "compose.offline.yml").read_text()
    assert set(offline) == set(base), "a service without the offline override would look for a bridge network"
    for name, service in offline.items():
        assert service["network_mode"] == "host", name
        assert service["pull_policy"] == "never", name
        assert service.get("ports", []) == [], name
        if base[name].get("ports"):  # a !reset inside the merged anchor would be dropped by compose
            block = re.search(rf"^  {name}:\n((?:    .*\n)+)", text, re.MULTILINE).group(1)
            assert "\n    ports: !reset []\n" in f"\n{block}", f"{name}: needs its own `ports: !reset []`"
        hosts = dict(h.rsplit(":", 1) for h in service["extra_hosts"])
        assert hosts.pop("${OFFLINE_HOSTNAME:-localhost}") == "127.0.0.1", name
        assert hosts == dict.fromkeys(("kafka", "localstack", "flink-jobmanager", "endpoint"), "127.0.0.1"), name


def test_only_the_upstream_images_are_replaced(base: dict[str, Any], offline: dict[str, Any]) -> None:
    replaced = {name for name, service in offline.items() if "image" in service}
    upstream = {name for name, service in base.items() if "build" not in service}
    profiled = {name for name in upstream if base[name].get("profiles")}  # never started offline (grafana)
    assert replaced == upstream - profiled
    assert all(offline[name]["image"].startswith("local/") for name in replaced)


def test_servers_bind_loopback_on_ports_off_the_defaults(offline: dict[str, Any]) -> None:
    text = (OFFLINE / "compose.offline.yml").read_text()
    defaults = Settings()
    used = {int(p) for p in re.findall(r"(?:127\.0\.0\.1|kafka|localstack|flink-jobmanager|endpoint):(\d+)", text)}
    used |= {int(v) for k, v in offline["flink-jobmanager"]["environment"].items() if k.endswith("_PORT")}
    taken = {defaults.kafka_port, defaults.kafka_controller_port, defaults.flink_rest_port, defaults.flink_rpc_port,
             defaults.endpoint_port, defaults.dynamodb_port, 4566}  # fmt: skip
    assert used and not used & taken, sorted(used & taken)
    assert "0.0.0.0" not in text
    assert offline["flink-jobmanager"]["environment"]["FLINK_BIND_ADDRESS"] == "127.0.0.1"
    assert offline["endpoint"]["environment"]["FRAUDSTREAM_SERVE_HOST"] == "127.0.0.1"
    assert all(listener.split("://")[1].startswith("127.0.0.1:")
               for listener in offline["kafka"]["environment"]["KAFKA_LISTENERS"].split(","))  # fmt: skip


def test_metrics_servers_bind_loopback_off_the_stacks_metrics_ports(
    base: dict[str, Any], offline: dict[str, Any]
) -> None:
    defaults = Settings()
    taken = {defaults.clock_metrics_port, defaults.agg_writer_metrics_port, defaults.fraud_scorer_metrics_port}
    serving = [
        name for name, service in base.items() if "FRAUDSTREAM_METRICS_HOST" in (service.get("environment") or {})
    ]
    assert serving, "the clock and the runners serve /metrics in compose"
    for name in serving:
        env = offline[name]["environment"]
        assert env["FRAUDSTREAM_METRICS_HOST"] == "127.0.0.1", name
        ports = {int(v) for k, v in env.items() if k.endswith("_METRICS_PORT")}
        assert ports and not ports & taken, name


def test_flink_entrypoint_bind_address_defaults_to_all_interfaces() -> None:
    entrypoint = (ROOT / "infra/docker/flink-entrypoint.sh").read_text()
    assert 'BIND="${FLINK_BIND_ADDRESS:-0.0.0.0}"' in entrypoint
    assert "0.0.0.0" not in entrypoint.replace('BIND="${FLINK_BIND_ADDRESS:-0.0.0.0}"', "").split("case")[1]


def test_base_images_are_pinned_by_digest() -> None:
    for dockerfile in (ROOT / "Dockerfile", ROOT / "infra/docker/flink.Dockerfile"):
        text = dockerfile.read_text()
        assert re.search(r"^ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}$", text, re.MULTILINE), dockerfile
        assert "FROM ${PYTHON_IMAGE}" in text
    flink = (ROOT / "infra/docker/flink.Dockerfile").read_text()
    assert re.search(r"^ARG FLINK_KAFKA_CONNECTOR_SHA256=[0-9a-f]{64}$", flink, re.MULTILINE)
    assert "sha256sum -c" in flink and "HEALTHCHECK" in flink


def test_connector_checksum_is_the_jar_the_local_stack_fetched() -> None:
    import hashlib

    jar = ROOT / "infra/jvm/lib/flink/flink-sql-connector-kafka.jar"  # fetched by `make setup` (same version)
    flink = (ROOT / "infra/docker/flink.Dockerfile").read_text()
    pinned = re.search(r"^ARG FLINK_KAFKA_CONNECTOR_SHA256=([0-9a-f]{64})$", flink, re.MULTILINE).group(1)
    assert hashlib.sha256(jar.read_bytes()).hexdigest() == pinned
