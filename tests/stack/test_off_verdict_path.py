"""Processes off the verdict path really run at a lower priority, autogroups included."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from fraudstream.stack.process import BACKGROUND_NICENESS, ManagedProcess, off_verdict_path

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="niceness and autogroups are Linux behaviour")


def _autogroup_nice(pid: int) -> int | None:
    """The niceness of a process's scheduling autogroup (None without autogroups)."""
    try:
        return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def test_background_process_is_niced_in_its_own_autogroup(tmp_path: Path) -> None:
    proc = ManagedProcess(
        name="niced",
        argv=[*off_verdict_path(), sys.executable, "-c", "import time; time.sleep(60)"],
        run_dir=tmp_path,
    )
    pid = proc.start()
    try:
        deadline = time.monotonic() + 10
        argv0 = ""
        while time.monotonic() < deadline and argv0 != sys.executable:
            time.sleep(0.05)  # the prefix execs the command: same pid, the program's own cmdline
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        assert argv0 == sys.executable
        assert os.getpriority(os.PRIO_PROCESS, pid) == BACKGROUND_NICENESS
        if Path("/proc/self/autogroup").exists():
            # its own session is its own scheduling group: the group's niceness is what the scheduler weighs
            assert os.getsid(pid) == pid
            assert _autogroup_nice(pid) == BACKGROUND_NICENESS
        assert proc.running_pid() == pid
    finally:
        proc.stop()
    assert proc.running_pid() is None


def test_a_verdict_path_process_keeps_normal_priority(tmp_path: Path) -> None:
    proc = ManagedProcess(name="normal", argv=[sys.executable, "-c", "import time; time.sleep(60)"], run_dir=tmp_path)
    pid = proc.start()
    try:
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0)
        if Path("/proc/self/autogroup").exists():
            assert _autogroup_nice(pid) == 0
    finally:
        proc.stop()
