"""The stream clock as a stack service: ``fraudstream clock`` in the background, next to Kafka.

It belongs to the stack, not to the demo: whenever the cc-agg job runs, event time must keep
moving on every partition (see :mod:`fraudstream.streaming.clock`). ``stack up`` starts it once
the topics exist (also when Kafka itself is external), ``stack down`` stops it first.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fraudstream.settings import Settings, env_name, settings_env
from fraudstream.stack.ports import metrics_address, metrics_env
from fraudstream.stack.process import ManagedProcess

NAME = "clock"


def clock_process(settings: Settings) -> ManagedProcess:
    """``fraudstream clock``, ready once its heartbeats are on the topic; /metrics on ``clock_metrics_port``."""
    from fraudstream.streaming.clock import clock_running

    port = settings.clock_metrics_port
    beats = f"{settings.topic_transactions} every {settings.clock_interval_ms} ms"
    return ManagedProcess(
        name=NAME,
        argv=[sys.executable, "-m", "fraudstream.cli.main", "clock", "--interval-ms", str(settings.clock_interval_ms)],
        run_dir=Path(settings.state_dir).resolve(),
        env={**settings_env(settings), **metrics_env(env_name("clock_metrics_port"), port)},
        host=settings.host,
        ports=(port,) if port else (),
        ready_check=lambda: clock_running(settings),
        address=f"{beats}; {metrics_address(settings.host, port)}",
        port_hint=f"set {env_name('clock_metrics_port')} to another port (0: no metrics)",
        stop_timeout=10.0,
    )
