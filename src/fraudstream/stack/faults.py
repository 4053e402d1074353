"""Fault injection on the local stack: SIGKILL one supervised process group, or restart Kafka cleanly.

Shared by ``benchmarks/bench_chaos.py`` and the chaos integration tests (``tests/chaos``), so both
inject exactly the same fault; the stack's supervisor (``stack.supervisor``) brings the process back.
"""

from __future__ import annotations

import os
import signal

from fraudstream.settings import Settings
from fraudstream.stack.process import ManagedProcess

FAULTS = (
    "kafka",
    "flink-taskmanager",
    "flink-jobmanager",
    "dynamodb",
    "endpoint",
    "agg-writer",
    "fraud-scorer",
    "kafka-restart",
)
"""Every fault bench_chaos knows: a supervised process name (SIGKILL), or ``kafka-restart`` (SIGTERM + start)."""

KAFKA_RESTART = "kafka-restart"


def supervised(settings: Settings, name: str) -> ManagedProcess:
    """The stack's process called ``name`` (as the supervisor sees it)."""
    from fraudstream.stack.supervisor import supervised_processes

    for proc in supervised_processes(settings):
        if proc.name == name:
            return proc
    raise ValueError(f"no supervised process called {name!r}")


def target(fault: str) -> str:
    """The process a fault acts on."""
    return "kafka" if fault == KAFKA_RESTART else fault


def injectable(settings: Settings, fault: str) -> bool:
    """True when the fault's process runs under this stack (not an external engine, not stopped)."""
    return supervised(settings, target(fault)).running_pid() is not None


def inject(settings: Settings, fault: str) -> int | None:
    """Apply ``fault``; returns the pid that was killed (None when nothing ran, or for a clean restart).

    SIGKILL goes to the whole process group (each managed process starts its own session), so a
    launcher script and the JVM it execs die together, as they would in a crash.
    """
    proc = supervised(settings, target(fault))
    if fault == KAFKA_RESTART:
        proc.stop()  # SIGTERM: a clean shutdown, data kept
        proc.start()
        return None
    pid = proc.running_pid()
    if pid:
        os.killpg(pid, signal.SIGKILL)
    return pid
