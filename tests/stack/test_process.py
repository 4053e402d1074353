"""ManagedProcess: start in the background, readiness, identity by pid + start time, stop."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.stack.errors import StackError
from fraudstream.stack.ports import free_port, is_listening
from fraudstream.stack.process import ManagedProcess

SERVER = "import http.server, sys; http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.BaseHTTPRequestHandler).serve_forever()"  # noqa: E501


def _server(tmp_path: Path, port: int) -> ManagedProcess:
    return ManagedProcess(name="web", argv=[sys.executable, "-c", SERVER, str(port)], run_dir=tmp_path, ports=(port,))


def test_start_ready_stop(tmp_path: Path) -> None:
    port = free_port()
    proc = _server(tmp_path, port)
    assert proc.state() == "stopped"
    pid = proc.start()
    assert proc.start() == pid  # already running: no second process
    proc.wait_ready(timeout=20)
    assert proc.state() == "ready"
    assert json.loads(proc.pid_file.read_text())["pid"] == pid
    assert proc.stop() is True
    assert not is_listening("127.0.0.1", port)
    assert proc.state() == "stopped"
    assert not proc.pid_file.exists()
    assert proc.stop() is False


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    first = _server(tmp_path / "a", port)
    first.start()
    try:
        first.wait_ready(timeout=20)
        with pytest.raises(StackError, match=f"port 127.0.0.1:{port} needed by web is already in use"):
            _server(tmp_path / "b", port).start()
    finally:
        first.stop()


def test_process_that_dies_reports_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        name="dies",
        argv=[sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        run_dir=tmp_path,
        ready_check=lambda: False,
    )
    proc.start()
    with pytest.raises(StackError, match="dies exited while starting.*boom: bad config"):
        proc.wait_ready(timeout=20)
    assert proc.state() == "crashed"


def test_never_signals_a_process_it_did_not_start(tmp_path: Path) -> None:
    """A pid file whose pid now belongs to another process (different start time) is ignored."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = ManagedProcess(name="stale", argv=["whatever"], run_dir=tmp_path)
        proc.pid_file.parent.mkdir(parents=True)
        proc.pid_file.write_text(json.dumps({"pid": other.pid, "start_ticks": 1, "argv": ["whatever"]}))
        assert proc.running_pid() is None
        assert proc.stop() is False
        assert other.poll() is None  # still alive
        os.kill(other.pid, 0)
    finally:
        other.kill()
        other.wait()


def test_identity_is_the_start_time_and_survives_a_clock_step(tmp_path: Path) -> None:
    import psutil

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc = ManagedProcess(name="other", argv=["whatever"], run_dir=tmp_path)
        proc.pid_file.parent.mkdir(parents=True)
        created = psutil.Process(other.pid).create_time()
        proc.pid_file.write_text(json.dumps({"pid": other.pid, "create_time": created + 5}))
        assert proc.running_pid() is None  # same pid, another start time: not ours
        proc.pid_file.write_text(json.dumps({"pid": other.pid, "create_time": created + 0.6}))
        assert proc.running_pid() == other.pid  # the boot time psutil adds moved with the wall clock
        if sys.platform.startswith("linux"):  # start ticks since boot: exact, whatever the wall clock did
            stat = Path(f"/proc/{other.pid}/stat").read_text()
            ticks = int(stat[stat.rfind(")") + 2 :].split()[19])
            proc.pid_file.write_text(json.dumps({"pid": other.pid, "start_ticks": ticks, "create_time": created - 60}))
            assert proc.running_pid() == other.pid
            proc.pid_file.write_text(json.dumps({"pid": other.pid, "start_ticks": ticks + 1, "create_time": created}))
            assert proc.running_pid() is None
    finally:
        other.kill()
        other.wait()
