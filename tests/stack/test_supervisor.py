"""Supervision: ``stack up`` starts a supervisor; a SIGKILLed engine comes back with backoff, ``stack
status`` shows the restarts and the last exit reason, ``stack down`` stops the supervisor and all it started.

DynamoDB Local on ports and a state dir of its own (it starts in seconds; the session's engines are
not touched). Kafka, Flink and the services go through the same restart code (pid file → argv).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fraudstream.stack.ports import free_ports, is_listening

pytestmark = pytest.mark.integration

FRAUDSTREAM = [sys.executable, "-m", "fraudstream.cli.main"]


def _env(state_dir: Path, ports: list[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FRAUDSTREAM_KAFKA_BOOTSTRAP", "AWS_ENDPOINT_URL")}
    env.update(
        FRAUDSTREAM_STATE_DIR=str(state_dir),
        FRAUDSTREAM_KAFKA_PORT=str(ports[0]),
        FRAUDSTREAM_KAFKA_CONTROLLER_PORT=str(ports[1]),
        FRAUDSTREAM_DYNAMODB_PORT=str(ports[2]),
        FRAUDSTREAM_FLINK_REST_PORT=str(ports[3]),
        FRAUDSTREAM_FLINK_RPC_PORT=str(ports[4]),
        FRAUDSTREAM_ENDPOINT_PORT=str(ports[5]),
        COLUMNS="250",
    )
    return env


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FRAUDSTREAM, "stack", *args], env=env, capture_output=True, text=True, timeout=300)


def _pid(state_dir: Path, name: str) -> int | None:
    try:
        return json.loads((state_dir / "pids" / f"{name}.pid").read_text())["pid"]
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _health(state_dir: Path) -> dict:
    try:
        return json.loads((state_dir / "run" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_restarted(state_dir: Path, port: int, restarts: int, old_pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _pid(state_dir, "dynamodb")
        row = _health(state_dir).get("dynamodb", {})
        fresh = bool(pid) and pid != old_pid and _alive(pid)
        if row.get("restarts", 0) >= restarts and fresh and is_listening("127.0.0.1", port):
            return pid
        time.sleep(0.25)
    raise AssertionError(f"dynamodb not restarted (restart {restarts}) within {timeout}s: {_health(state_dir)}")


@pytest.mark.slow
def test_killed_engine_restarts_and_down_stops_everything(tmp_path: Path) -> None:
    ports = free_ports(6)
    state = tmp_path / "state"
    env = _env(state, ports)
    try:
        up = _stack(env, "up", "--only", "dynamodb")
        assert up.returncode == 0, up.stderr
        assert "supervisor started" in up.stdout
        supervisor = _pid(state, "supervisor")
        first = _pid(state, "dynamodb")
        assert supervisor and _alive(supervisor) and first

        os.killpg(first, signal.SIGKILL)  # started by `stack up`: not the supervisor's child
        second = _wait_restarted(state, ports[2], 1, first)
        assert "exited" in _health(state)["dynamodb"]["last_exit"]

        os.killpg(second, signal.SIGKILL)  # started by the supervisor: its wait status names the signal
        third = _wait_restarted(state, ports[2], 2, second)
        assert _health(state)["dynamodb"]["last_exit"] == "killed by SIGKILL"

        status = _stack(env, "status", "--only", "dynamodb")
        assert status.returncode == 0, status.stderr
        row = next(line for line in status.stdout.splitlines() if line.strip("│ ").startswith("dynamodb"))
        assert "ready" in row and " 2 " in row and "killed by SIGKILL" in row
        assert "supervisor" in status.stdout

        down = _stack(env, "down")
        assert down.returncode == 0, down.stderr
        assert "stopped supervisor" in down.stdout and "dynamodb" in down.stdout
        time.sleep(1.0)  # a supervisor still running would have restarted it by now
        assert not any(_alive(p) for p in (supervisor, first, second, third))
        assert _pid(state, "dynamodb") is None and not is_listening("127.0.0.1", ports[2])
    finally:
        _stack(env, "down")
