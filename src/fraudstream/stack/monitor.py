"""The monitor as a stack service: ``fraudstream monitor``, ready once its ``/healthz`` answers.

Started by ``fraudstream stack up`` beside the stream clock (and only when the clock is: test
sessions turn the clock off and start their own monitors on free ports).
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

from fraudstream.monitor.config import MonitorSettings
from fraudstream.settings import Settings, settings_env
from fraudstream.stack.process import ManagedProcess, off_verdict_path

NAME = "monitor"


def monitor_url(settings: Settings, config: MonitorSettings | None = None) -> str:
    config = config or MonitorSettings()
    return f"http://{settings.host}:{config.port}/"


def monitor_process(settings: Settings) -> ManagedProcess:
    """``fraudstream monitor`` on its configured port (8090 by default)."""
    url = monitor_url(settings)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    return ManagedProcess(
        name=NAME,
        argv=[*off_verdict_path(), sys.executable, "-m", "fraudstream.cli.main", "monitor"],
        run_dir=Path(settings.state_dir).resolve(),
        env=settings_env(settings),
        host=settings.host,
        ready_check=ready,
        address=f"dashboard {url}",
        stop_timeout=10.0,
    )
