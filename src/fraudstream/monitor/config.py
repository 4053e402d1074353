"""The monitor's own settings (env prefix ``FRAUDSTREAM_MONITOR_``): port, store file, retention.

Kept apart from the shared :class:`~fraudstream.settings.Settings` (addresses and topic names come
from there) so the monitor's knobs live with the monitor.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8090


class MonitorSettings(BaseSettings):
    """Where the monitor listens and keeps its store, and how long it keeps rows."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_MONITOR_")

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db_path: Path | None = None
    """SQLite file; default ``<state_dir>/monitor/monitor.sqlite``."""
    retention_hours: float = 48.0
    group_id: str = "fraudstream-monitor"
    refresh_s: float = 2.0
    """How often the figures (and the Prometheus gauges) are recomputed, at most: see ``refresh_cpu_share``."""
    refresh_cpu_share: float = 0.1
    """The share of one core the figures may take: after a refresh that took d seconds the next waits at
    least d / share - d. Why: the figures scan the store's windows (up to a day of predictions), and a
    refresh every 2 s took 0.45 of a core on a 2-core laptop, where the verdict path needs the cores."""
    model_dir: Path | None = None
    """Registry to read reference distributions from; default the shared settings' ``model_dir``."""
    flink_bridge: bool = True
    """Poll Flink's REST API and expose the cc-agg job's figures on /metrics (``flink_bridge.py``)."""
    flink_poll_s: float = 10.0
    flink_dead_letter_poll_s: float = 30.0
    """How often the late/invalid rows are recounted from the ``dead-letter`` topic (a full read)."""
