"""A background process the stack owns: command, environment, pid file, log file and readiness check.

Reusable beyond the engines (``fraudstream serve``, the handler runners): give it a command and a
readiness check, call ``start()`` then ``wait_ready()``, and ``stop()`` later, from any process.

Identity: the pid file records the pid *and* when that process started (on Linux its start ticks
since boot, which no clock change moves; elsewhere psutil's ``create_time``), so ``stop()`` never
signals a different process that happens to reuse the pid (and an ``exec`` inside a launcher script,
as Flink's scripts do, keeps the identity).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from fraudstream.stack.errors import StackError
from fraudstream.stack.ports import is_listening
from fraudstream.waiting import wait_until

ReadinessCheck = Callable[[], bool]


WALL_CLOCK_SLACK_S = 1.5
"""How far two readings of one process's wall-clock start time may differ. psutil adds the kernel's
boot time (``btime``, re-read on every call) to the start ticks, and ``btime`` moves when the wall
clock is stepped or slewed: a live broker once looked "not ours" to the next ``stack up``, which
then found its port taken. Linux pid files therefore compare the start ticks, which never move."""


def _create_time(pid: int) -> float | None:
    """When a live (not zombie) process started, seconds since the epoch; None when it is gone."""
    try:
        proc = psutil.Process(pid)
        if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _start_ticks(pid: int) -> int | None:
    """Linux: clock ticks from boot to the process's start (/proc/PID/stat field 22); None when gone or not Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    if fields[0] in ("Z", "X"):  # zombie or dead
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _identity(pid: int) -> dict[str, float | int]:
    """What a pid file records to recognise the process later: its start ticks (Linux) and start time."""
    identity: dict[str, float | int] = {}
    ticks = _start_ticks(pid)
    if ticks is not None:
        identity["start_ticks"] = ticks
    created = _create_time(pid)
    if created is not None:
        identity["create_time"] = created
    return identity


def _alive(pid: int, record: Mapping[str, object]) -> bool:
    """The process ``pid`` is alive and is the one the pid-file ``record`` describes (when it says)."""
    _reap(pid)
    ticks = record.get("start_ticks")
    if isinstance(ticks, int) and Path("/proc/self/stat").exists():
        return _start_ticks(pid) == ticks
    created = _create_time(pid)
    if created is None:
        return False
    started = record.get("create_time")
    return not isinstance(started, int | float) or abs(created - started) < WALL_CLOCK_SLACK_S


@dataclass
class ManagedProcess:
    """One background process with its own pid file and log file under ``run_dir``."""

    name: str
    argv: Sequence[str]
    run_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # added to the current environment
    cwd: Path | None = None
    host: str = "127.0.0.1"
    ports: tuple[int, ...] = ()  # must be free before start, and closed after stop
    ready_check: ReadinessCheck | None = None  # default: every port in ``ports`` accepts connections
    address: str = ""  # shown by ``status``
    port_hint: str = ""  # how to choose another port, shown when one is taken
    stop_timeout: float = 30.0

    @property
    def pid_file(self) -> Path:
        return Path(self.run_dir) / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return Path(self.run_dir) / "logs" / f"{self.name}.log"

    # ---------------------------------------------------------------- identity
    def _record(self) -> dict | None:
        try:
            return json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def running_pid(self) -> int | None:
        """The pid of our process when it is still alive (and still the process we started)."""
        record = self._record()
        if not record:
            return None
        pid = int(record["pid"])
        return pid if _alive(pid, record) else None

    def has_stale_pid_file(self) -> bool:
        return self.pid_file.exists() and self.running_pid() is None

    # ---------------------------------------------------------------- readiness
    def is_ready(self) -> bool:
        """Alive and answering its readiness check."""
        if self.running_pid() is None:
            return False
        try:
            if self.ready_check is not None:
                return bool(self.ready_check())
            return all(is_listening(self.host, p) for p in self.ports)
        except Exception:  # a check that raises means "not ready yet"
            return False

    def state(self) -> str:
        """``ready``, ``starting`` (alive, not answering), ``stopped`` or ``crashed`` (pid file, no process)."""
        if self.running_pid() is None:
            return "crashed" if self.pid_file.exists() else "stopped"
        return "ready" if self.is_ready() else "starting"

    # ---------------------------------------------------------------- lifecycle
    def check_ports_free(self) -> None:
        for port in self.ports:
            if is_listening(self.host, port):
                hint = f"; {self.port_hint}" if self.port_hint else ""
                raise StackError(f"port {self.host}:{port} needed by {self.name} is already in use{hint}")

    def start(self) -> int:
        """Start the process in its own session (no-op when already running); returns its pid."""
        pid = self.running_pid()
        if pid is not None:
            return pid
        self.check_ports_free()
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with open(self.log_file, "ab") as log:
            banner = f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name}: {' '.join(self.argv)}\n"
            log.write(banner.encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    list(self.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,  # its own process group: stop() signals the whole group
                    close_fds=True,
                )
            except FileNotFoundError as exc:
                raise StackError(f"cannot start {self.name}: {exc.filename} not found") from None
        record = {
            "pid": proc.pid,
            **_identity(proc.pid),
            "argv": list(self.argv),
            "started_at": time.time(),
        }
        self.pid_file.write_text(json.dumps(record))
        return proc.pid

    def _tail(self, lines: int = 1) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def wait_ready(self, timeout: float = 120.0, interval: float = 0.25) -> None:
        """Block until ready; a clear StackError when the process dies or the deadline passes."""

        def ready() -> bool:
            if self.running_pid() is None:
                raise StackError(f"{self.name} exited while starting; see {self.log_file}: {self._tail()}")
            return self.is_ready()

        try:
            wait_until(ready, timeout, f"{self.name} to be ready", interval=interval)
        except TimeoutError:
            raise StackError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_file}") from None

    def stop(self) -> bool:
        """SIGTERM the process group, SIGKILL after ``stop_timeout``; True when something was stopped."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        record = self._record() or {}

        def gone() -> bool:
            return not _alive(pid, record)

        self._signal(pid, signal.SIGTERM)
        try:
            wait_until(gone, self.stop_timeout, f"{self.name} to stop", interval=0.1)
        except TimeoutError:
            self._signal(pid, signal.SIGKILL)
            wait_until(gone, float("inf"), f"{self.name} to die", interval=0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)  # pid == pgid: started with start_new_session
        except ProcessLookupError:
            return
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


BACKGROUND_NICENESS = 10

# Runs as ``sh -c SCRIPT NICENESS COMMAND...``: sets the niceness of the process's own autogroup, then
# execs the command (same pid) under ``nice``. Writing the autogroup is allowed for one's own process
# when it lowers the priority; where there is no autogroup the write fails silently.
_LOWER_PRIORITY_SH = '{ echo "$0" > /proc/self/autogroup; } 2>/dev/null; exec nice -n "$0" "$@"'


def off_verdict_path() -> list[str]:
    """argv prefix for a process that is not on the verdict path (agg-writer, lake archiver, monitor).

    Why: on a laptop every engine and service shares a few cores; these consume the same topics as
    the scorer at the same rate, and at normal priority they take the CPU that Flink and the scorer
    need for a verdict in milliseconds. At a lower priority they catch up in the gaps (their output
    may lag by a fraction of a second; nothing is lost).

    ``nice`` alone is not enough on Linux: each managed process starts its own session
    (``start_new_session``), and with ``kernel.sched_autogroup_enabled`` (the default of most
    distributions) every session is a scheduling group of its own whose weight ignores the
    niceness of the processes in it, so a niced process still got as much CPU as Flink. The
    group's own niceness (``/proc/self/autogroup``) is what counts there, so both are set.
    """
    import shutil

    if not shutil.which("nice"):
        return []
    if shutil.which("sh") and Path("/proc/self/autogroup").exists():
        return ["sh", "-c", _LOWER_PRIORITY_SH, str(BACKGROUND_NICENESS)]
    return ["nice", "-n", str(BACKGROUND_NICENESS)]
