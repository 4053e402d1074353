"""The stream clock as a stack service: ``fraudstream clock`` in the background, next to Kafka.

It belongs to the stack, not to the demo: whenever the cc-agg job runs, event time must keep
moving on every partition (see :mod:`fraudstream.streaming.clock`). ``stack up`` starts it once
the topics exist (also when Kafka itself is external), ``stack down`` stops it first.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fraudstream.settings import Settings, settings_env
from fraudstream.stack.process import ManagedProcess

NAME = "clock"


def clock_process(settings: Settings) -> ManagedProcess:
    """``fraudstream clock``, ready once its heartbeats are on the topic."""
    from fraudstream.streaming.clock import clock_running

    return ManagedProcess(
        name=NAME,
        argv=[sys.executable, "-m", "fraudstream.cli.main", "clock", "--interval-ms", str(settings.clock_interval_ms)],
        run_dir=Path(settings.state_dir).resolve(),
        env=settings_env(settings),
        host=settings.host,
        ready_check=lambda: clock_running(settings),
        address=f"{settings.topic_transactions} every {settings.clock_interval_ms} ms",
        stop_timeout=10.0,
    )
