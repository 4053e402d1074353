"""``fraudstream flink`` commands that need no cluster: the SQL listing and a clear error when
the Flink REST API is unreachable (never a traceback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

FRAUDSTREAM = str(Path(sys.executable).with_name("fraudstream"))


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FRAUDSTREAM, "flink", *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flink_sql_prints_the_statement_set_for_the_configured_topics():
    proc = run_cli("sql", FRAUDSTREAM_TOPIC_TRANSACTIONS="tx-cli", FRAUDSTREAM_KAFKA_BOOTSTRAP="kafka.example:9092")
    assert proc.returncode == 0, proc.stderr
    assert "EXECUTE STATEMENT SET" in proc.stdout
    assert "'topic' = 'tx-cli'" in proc.stdout and "kafka.example:9092" in proc.stdout


def test_flink_status_without_a_cluster_is_a_clear_error():
    proc = run_cli("status", FRAUDSTREAM_FLINK_REST=f"http://127.0.0.1:{closed_port()}")
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr and "Traceback" not in proc.stderr
