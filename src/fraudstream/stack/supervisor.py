"""Supervision of the local stack: restart a crashed engine or service with backoff.

Why one small supervisor process (``fraudstream stack supervise``) rather than making each
``ManagedProcess`` its own watchdog: the stack's processes are started by short-lived CLI calls
(``stack up``, the demo) and outlive them, so something long-lived has to watch them; one
process that owns every restart keeps the state (restarts, last exit reason) in one file under
the state dir, which ``stack status`` reads, and ``stack down`` has one thing to stop first so
nothing is restarted while it is stopping the rest.

What it supervises: every process of the stack's known set (Kafka, DynamoDB Local, Flink
JobManager and TaskManager, the clock, the lake archiver, the monitor, the endpoint, both handler runners)
that has a pid file, i.e. that the stack started and nobody stopped (``stop()`` removes the pid
file). A process whose pid file names a dead process is restarted with the argv it was started
with; delays double from 1 s to 30 s while it keeps crashing and reset once it stays up 60 s.
After a JobManager restart the cc-agg job (lost without Flink HA) is resubmitted from its latest
retained checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fraudstream.settings import Settings, settings_env
from fraudstream.stack.errors import StackError
from fraudstream.stack.process import ManagedProcess
from fraudstream.stack.supervisor_metrics import RESTARTS, SERVICE_UP, serve_from_env

NAME = "supervisor"
STATE_FILE = "supervisor.json"
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0


@dataclass
class Health:
    """What the supervisor knows of one process: shown by ``stack status``."""

    restarts: int = 0
    last_exit: str = ""
    last_restart_at: float = 0.0
    consecutive: int = 0
    next_try_at: float = 0.0
    down_since: float = 0.0
    resubmits: int = field(default=0)


def state_path(settings: Settings) -> Path:
    return Path(settings.state_dir).resolve() / "run" / STATE_FILE


def read_health(settings: Settings) -> dict[str, Health]:
    """The supervisor's record per process name (empty when it never ran)."""
    try:
        raw = json.loads(state_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    names = {f.name for f in dataclasses.fields(Health)}
    return {name: Health(**{k: v for k, v in row.items() if k in names}) for name, row in raw.items()}


def _write_health(settings: Settings, health: dict[str, Health]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({name: dataclasses.asdict(h) for name, h in health.items()}, indent=1))
    tmp.replace(path)


def supervisor_process(settings: Settings) -> ManagedProcess:
    """``fraudstream stack supervise`` in the background, ready once its state file exists."""
    path = state_path(settings)
    return ManagedProcess(
        name=NAME,
        argv=[sys.executable, "-m", "fraudstream.cli.main", "stack", "supervise"],
        run_dir=Path(settings.state_dir).resolve(),
        env=settings_env(settings),
        host=settings.host,
        ready_check=path.exists,
        address=str(path),
        stop_timeout=10.0,
    )


def ensure_supervisor(settings: Settings) -> bool:
    """Start the supervisor unless it runs; True when it was started now."""
    proc = supervisor_process(settings)
    if proc.running_pid() is not None:
        return False
    state_path(settings).unlink(missing_ok=True)
    proc.start()
    proc.wait_ready(timeout=30)
    return True


def stop_supervisor(settings: Settings) -> bool:
    """Stop the supervisor first, so nothing is restarted while the rest stops."""
    return supervisor_process(settings).stop()


def supervised_processes(settings: Settings) -> list[ManagedProcess]:
    """Every process the stack may have started, in start order (engines missing on disk are skipped)."""
    from fraudstream.demo.services import demo_processes
    from fraudstream.stack import dynamodb, flink, kafka
    from fraudstream.stack.clock import clock_process
    from fraudstream.stack.lake import archiver_process
    from fraudstream.stack.monitor import monitor_process

    procs: list[ManagedProcess] = []
    for engine in (kafka, dynamodb, flink):
        with contextlib.suppress(StackError):
            procs.extend(engine.processes(settings))
    procs += [clock_process(settings), archiver_process(settings), monitor_process(settings)]
    procs += demo_processes(settings)
    return procs


def _exit_reason(status: int | None, proc: ManagedProcess) -> str:
    """A readable exit reason: the wait status when we were the parent, else the log's last line."""
    if status is not None:
        if os.WIFSIGNALED(status):
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit code {os.WEXITSTATUS(status)}"
    tail = proc._tail()
    return f"exited (not our child); log: {tail[-160:]}" if tail else "exited (not our child)"


class Supervisor:
    """The restart loop: poll pid files, restart the dead with backoff, record why."""

    def __init__(self, settings: Settings, interval: float = 0.5, report: Callable[[str], None] | None = None):
        self.settings = settings
        self.interval = interval
        self.report = report or (lambda message: print(message, flush=True))
        self.health = read_health(settings)
        self._statuses: dict[int, int] = {}
        self._stopping = False

    def _reap_children(self) -> None:
        """Collect our children's exit statuses before ``running_pid`` discards them."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._statuses[pid] = status

    def check_once(self) -> list[str]:
        """One pass: restart whatever is due; returns the names restarted."""
        self._reap_children()
        now = time.time()
        restarted = []
        for proc in supervised_processes(self.settings):
            record = proc._record()
            if record is None:  # never started, or stopped on purpose
                with contextlib.suppress(KeyError):
                    SERVICE_UP.remove(proc.name)
                continue
            h = self.health.setdefault(proc.name, Health())
            running = proc.running_pid() is not None
            SERVICE_UP.labels(proc.name).set(1 if running else 0)
            if running:
                if h.consecutive and now - h.last_restart_at > STABLE_AFTER_S:
                    h.consecutive = 0
                continue
            if not h.down_since:
                h.down_since = now
                h.last_exit = _exit_reason(self._statuses.pop(int(record["pid"]), None), proc)
                delay = 0.0 if h.consecutive == 0 else min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** (h.consecutive - 1))
                h.next_try_at = now + delay
                self.report(f"{proc.name} died ({h.last_exit}); restart in {delay:.0f}s")
            if now < h.next_try_at or self._stopping:
                continue
            if self._restart(proc, record, h):
                restarted.append(proc.name)
        _write_health(self.settings, self.health)
        return restarted

    def _restart(self, proc: ManagedProcess, record: dict, h: Health) -> bool:
        again = dataclasses.replace(proc, argv=record.get("argv") or list(proc.argv))
        try:
            again.pid_file.unlink(missing_ok=True)
            again.start()
        except (StackError, OSError) as exc:
            h.consecutive += 1
            h.next_try_at = time.time() + min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2**h.consecutive)
            h.last_exit = f"{h.last_exit}; restart failed: {exc}"
            again.pid_file.write_text(json.dumps(record))  # keep it supervised
            RESTARTS.labels(proc.name, "failed").inc()
            self.report(f"{proc.name}: restart failed ({exc})")
            return False
        h.restarts += 1
        h.consecutive += 1
        h.last_restart_at = time.time()
        h.down_since = 0.0
        RESTARTS.labels(proc.name, "ok").inc()
        SERVICE_UP.labels(proc.name).set(1)
        self.report(f"restarted {proc.name} (pid {again.running_pid()}, restart {h.restarts})")
        from fraudstream.stack import flink

        if proc.name == flink.JOBMANAGER:
            self._resubmit_job(again, h)
        return True

    def _resubmit_job(self, jobmanager: ManagedProcess, h: Health) -> None:
        """Without Flink HA a restarted JobManager has no jobs: bring cc-agg back from its latest checkpoint."""
        checkpoint = latest_checkpoint(self.settings)
        if checkpoint is None:
            return
        try:
            jobmanager.wait_ready(timeout=120)
            from fraudstream.streaming.submit import submit_job

            job_id = submit_job(self.settings, from_savepoint=checkpoint)
        except Exception as exc:  # the loop must survive; the reason goes to status
            h.last_exit = f"{h.last_exit}; resubmit failed: {exc}"[:500]
            self.report(f"resubmitting cc-agg from {checkpoint} failed: {exc}")
            return
        h.resubmits += 1
        self.report(f"resubmitted cc-agg as {job_id} from {checkpoint}")

    def run(self) -> None:
        """Loop until SIGTERM/SIGINT."""

        def _stop(signum, frame) -> None:  # noqa: ARG001
            self._stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        _write_health(self.settings, self.health)
        serve_from_env()
        self.report(f"supervising the stack in {self.settings.state_dir}")
        while not self._stopping:
            try:
                self.check_once()
            except Exception as exc:  # one bad pass must not end supervision
                self.report(f"supervisor pass failed: {exc!r}")
            time.sleep(self.interval)


def latest_checkpoint(settings: Settings) -> str | None:
    """The newest completed checkpoint (a ``chk-N`` folder with ``_metadata``) under the stack's Flink home."""
    root = Path(settings.state_dir).resolve() / "flink" / "checkpoints"
    done = [p.parent for p in root.glob("*/chk-*/_metadata")]
    if not done:
        return None
    return str(max(done, key=lambda p: p.stat().st_mtime))
