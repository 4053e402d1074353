"""``fraudstream demo --stop`` stops at once and runs nothing of the demo (it used to be ``--down``, which reran it)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from fraudstream.stack.ports import free_ports


def test_demo_stop_runs_nothing_and_exits(tmp_path: Path) -> None:
    ports = free_ports(6)
    names = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "DYNAMODB_PORT")
    names += ("FLINK_REST_PORT", "FLINK_RPC_PORT", "ENDPOINT_PORT")
    env = {**os.environ, "FRAUDSTREAM_STATE_DIR": str(tmp_path / "state")}
    env.update({f"FRAUDSTREAM_{name}": str(port) for name, port in zip(names, ports, strict=True)})
    env.pop("FRAUDSTREAM_KAFKA_BOOTSTRAP", None)
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fraudstream.cli.main", "demo", "--stop"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nothing running: nothing to stop" in done.stdout
    assert time.monotonic() - t0 < 60  # no stack start, no data, no training
    assert not (tmp_path / "state" / "kafka").exists()  # nothing of the demo ran
