"""The long-running monitor: consumer thread, a refresher that recomputes the snapshot (and the
Prometheus gauges) every few seconds and applies retention, the Flink bridge's poller, and the HTTP
server (dashboard, JSON, /metrics).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from fraudstream.memory import release_freed_memory
from fraudstream.model import registry
from fraudstream.model.reference import REFERENCE_KEY
from fraudstream.monitor.config import MonitorSettings
from fraudstream.monitor.consumer import MonitorConsumer
from fraudstream.monitor.figures import snapshot
from fraudstream.monitor.flink_bridge import FlinkBridge
from fraudstream.monitor.metrics import MonitorMetrics
from fraudstream.monitor.server import MonitorHTTPServer
from fraudstream.monitor.store import MonitorStore
from fraudstream.settings import Settings

log = logging.getLogger(__name__)


def refresh_wait(took_s: float, every_s: float, cpu_share: float) -> float:
    """Seconds to the next refresh: ``every_s``, or longer so that refreshing takes at most ``cpu_share``
    of a core (a refresh of ``took_s`` is followed by ``took_s / cpu_share - took_s`` of rest)."""
    if cpu_share <= 0 or cpu_share >= 1:
        return every_s
    return max(every_s, took_s / cpu_share - took_s)


def empty_snapshot() -> dict[str, Any]:
    """The figures of an empty store: every key the dashboard reads, with nothing counted yet."""
    empty = MonitorStore(":memory:")
    try:
        return snapshot(empty, {})
    finally:
        empty.close()


def store_path(settings: Settings, config: MonitorSettings) -> Path:
    return config.db_path or Path(settings.state_dir) / "monitor" / "monitor.sqlite"


def load_references(model_dir: Path, version: str | None) -> dict[str, Any]:
    """The reference distributions of ``version`` (or the latest model); empty when there are none."""
    for candidate in ([version] if version else []) + [registry.LATEST]:
        try:
            meta = registry.load_metadata(model_dir, candidate)
        except (FileNotFoundError, ValueError):
            continue
        refs = (meta.model_extra or {}).get(REFERENCE_KEY)
        if refs:
            return refs
    return {}


class Monitor:
    """Owns the store, the consumer, the snapshot and the HTTP server."""

    def __init__(self, settings: Settings, config: MonitorSettings | None = None) -> None:
        self.settings = settings
        self.config = config or MonitorSettings()
        self.model_dir = Path(self.config.model_dir or settings.model_dir)
        self.store = MonitorStore(store_path(settings, self.config))
        self.metrics = MonitorMetrics()
        self.flink = FlinkBridge(settings, self.config.flink_poll_s, self.config.flink_dead_letter_poll_s)
        if self.config.flink_bridge:
            self.metrics.registry.register(self.flink)
        self.consumer = MonitorConsumer(settings, self.store, self.metrics, self.config.group_id)
        # the first real snapshot is the refresh thread's first job: over a large store it takes long
        # (a 3.9 GB store from earlier soaks: over 60 s), and the dashboard and /metrics must answer at once
        self.snapshot: dict[str, Any] = {**empty_snapshot(), "flink": None, "warming_up": True}
        self.server = MonitorHTTPServer((self.config.host, self.config.port), self)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def refresh(self) -> dict[str, Any]:
        rows = self.store.query("SELECT model_version FROM predictions ORDER BY scored_at DESC LIMIT 1")
        refs = load_references(self.model_dir, rows[0][0] if rows else None)
        self.snapshot = self.figures(refs)
        self.metrics.update(self.snapshot)
        return self.snapshot

    def figures(self, references: dict[str, Any]) -> dict[str, Any]:
        """The JSON API's snapshot: the store's figures and the Flink bridge's last poll (None: bridge off)."""
        flink = self.flink.figures() if self.config.flink_bridge else None
        return {**snapshot(self.store, references), "flink": flink}

    def _refresh_loop(self) -> None:
        wait = 0.0  # the first refresh at once (see __init__)
        while not self._stop.wait(wait):
            began = time.monotonic()
            try:
                self.store.enforce_retention(time.time() - self.config.retention_hours * 3600)
                self.refresh()
            except Exception:
                log.exception("monitor refresh failed")
            release_freed_memory()
            wait = refresh_wait(time.monotonic() - began, self.config.refresh_s, self.config.refresh_cpu_share)

    def _flink_loop(self) -> None:
        self.flink.run(self._stop)

    def start(self) -> None:
        targets = [self.consumer.run, self._refresh_loop, self.server.serve_forever]
        if self.config.flink_bridge:
            targets.append(self._flink_loop)
        for target in targets:
            thread = threading.Thread(target=target, daemon=True, name=f"monitor-{target.__name__}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.consumer.stop()
        self.server.shutdown()
        for thread in self._threads:
            thread.join(10)
        self.server.server_close()
        self.consumer.close()
        self.store.close()
