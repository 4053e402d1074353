"""``fraudstream stack up|status|down`` as a user runs it, on ports and a state dir of its own.

Storage kept across restarts (and wiped by ``--fresh``) is checked in test_kafka_storage.py without
restarting a broker.

Uses ``--only kafka,dynamodb``: the session's Flink cluster (test_flink_sql) already proves Flink
starts and gets ready through the same Stack code, and a second Flink start would add ~30 s.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.stack.ports import free_ports, is_listening

pytestmark = pytest.mark.integration

FRAUDSTREAM = [sys.executable, "-m", "fraudstream.cli.main"]


def _env(state_dir: Path, ports: list[int], **extra: str) -> dict[str, str]:
    """Engine ports from ``ports``; the services' ports (monitor, /metrics) free ones of their own."""
    env = {k: v for k, v in os.environ.items() if k not in ("FRAUDSTREAM_KAFKA_BOOTSTRAP", "AWS_ENDPOINT_URL")}
    monitor, clock_metrics, agg_metrics, scorer_metrics = free_ports(4)
    env.update(
        FRAUDSTREAM_STATE_DIR=str(state_dir),
        FRAUDSTREAM_KAFKA_PORT=str(ports[0]),
        FRAUDSTREAM_KAFKA_CONTROLLER_PORT=str(ports[1]),
        FRAUDSTREAM_DYNAMODB_PORT=str(ports[2]),
        FRAUDSTREAM_MONITOR_PORT=str(monitor),
        FRAUDSTREAM_CLOCK_METRICS_PORT=str(clock_metrics),
        FRAUDSTREAM_AGG_WRITER_METRICS_PORT=str(agg_metrics),
        FRAUDSTREAM_FRAUD_SCORER_METRICS_PORT=str(scorer_metrics),
        FRAUDSTREAM_LAKE_DIR=str(state_dir / "lake"),
        COLUMNS="200",
        **extra,
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FRAUDSTREAM, "stack", *args], env=env, capture_output=True, text=True, timeout=300)


def _families(url: str) -> dict[str, list]:
    """The metric families of a /metrics page, parsed as Prometheus parses it: samples by family name."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _pid_records(state_dir: Path) -> list[str]:
    """The pid-file records of the two handler runners."""
    return [p.read_text() for p in sorted(state_dir.rglob("*.pid")) if p.stem in ("agg-writer", "fraud-scorer")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.slow
def test_up_status_noop_down(tmp_path: Path) -> None:
    ports = free_ports(3)
    env = _env(tmp_path / "state", ports)
    only = ["--only", "kafka,dynamodb"]
    try:
        up = _run(env, "up", *only)
        assert up.returncode == 0, up.stderr
        assert "started kafka, dynamodb" in up.stdout
        assert "topics created: transactions, labels, cc-agg, predictions, dead-letter" in up.stdout

        status = _run(env, "status", *only)
        assert status.returncode == 0, status.stderr
        rows = [line for line in status.stdout.splitlines() if "kafka" in line or "dynamodb" in line]
        assert len(rows) == 2 and all("ready" in row for row in rows), status.stdout
        assert f"127.0.0.1:{ports[0]}" in status.stdout
        clock_metrics = f"http://127.0.0.1:{env['FRAUDSTREAM_CLOCK_METRICS_PORT']}/metrics"
        assert clock_metrics in status.stdout
        assert _families(clock_metrics)["fraudstream_clock_heartbeats"][0].value > 0

        again = _run(env, "up", *only, "--with-handlers")
        assert again.returncode == 0, again.stderr
        assert "stack already up: nothing to start" in again.stdout
        for runner in ("agg-writer", "fraud-scorer"):  # ready = its consumer group has partitions
            assert f"handler runner {runner}: ready" in again.stdout
        pids = [json.loads(record)["pid"] for record in _pid_records(tmp_path / "state")]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        status = _run(env, "status")
        for runner in ("AGG_WRITER", "FRAUD_SCORER"):  # each runner serves its own /metrics, shown by status
            url = f"http://127.0.0.1:{env[f'FRAUDSTREAM_{runner}_METRICS_PORT']}/metrics"
            assert url in status.stdout, status.stdout
            assert "fraudstream_handler_records" in _families(url), url

        down = _run(env, "down")
        assert down.returncode == 0, down.stderr
        # the monitor, the lake archiver and the stream clock are stack services next to Kafka: down stops
        # the supervisor first (nothing is restarted while stopping), then them before the engines
        assert "stopped supervisor" in down.stdout
        assert "stopped fraud-scorer, agg-writer, monitor, lake-archiver, clock, dynamodb, kafka" in down.stdout
        assert not any(_alive(pid) for pid in pids)
        assert not any(is_listening("127.0.0.1", port) for port in ports)
        assert (tmp_path / "state" / "kafka" / "data" / "transactions-0").is_dir()  # data kept for the next up
    finally:
        _run(env, "down")
    assert not any(is_listening("127.0.0.1", port) for port in ports)
    assert "nothing to stop" in _run(env, "down").stdout


def test_taken_port_is_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        env = _env(tmp_path, [taken, *free_ports(2)])
        result = _run(env, "up", "--only", "kafka")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port 127.0.0.1:{taken} needed by kafka is already in use; "
        "set FRAUDSTREAM_KAFKA_PORT / FRAUDSTREAM_KAFKA_CONTROLLER_PORT"
    )


def test_missing_component_says_make_setup(tmp_path: Path) -> None:
    env = _env(tmp_path, free_ports(3), FRAUDSTREAM_JVM_LIB_DIR=str(tmp_path / "empty"))
    result = _run(env, "up", "--only", "dynamodb")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: dynamodb is not fetched") and "make setup" in result.stderr


def test_missing_java_is_one_line_error(tmp_path: Path) -> None:
    env = _env(tmp_path, free_ports(3), PATH="/nonexistent", JAVA_HOME="")
    result = _run(env, "up", "--only", "kafka")
    assert result.returncode == 1
    assert result.stderr.startswith("error: java not found"), result.stderr
    assert "Traceback" not in result.stderr
