"""The lake archiver as a stack service: ``fraudstream lake archive`` in the background, next to the clock.

It belongs to the stack so that whatever flows through Kafka reaches the lake (and so the nightly
job) without anyone remembering to start it; ``stack up`` starts it once the topics exist,
``stack down`` stops it (SIGTERM: it writes what it holds and commits before exiting).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fraudstream.settings import Settings, settings_env
from fraudstream.stack.process import ManagedProcess, off_verdict_path

NAME = "lake-archiver"
READY_LINE = "archiving "
"""What the command logs once its consumer is subscribed (see ``fraudstream.cli.lake``)."""


def lake_location(settings: Settings) -> str:
    """The lake as the child must see it: a local directory made absolute (its cwd may differ)."""
    lake = str(settings.lake_dir)
    return lake if "://" in lake else str(Path(lake).resolve())


def archiver_process(settings: Settings) -> ManagedProcess:
    """``fraudstream lake archive``, ready once it has logged its subscription."""
    run_dir = Path(settings.state_dir).resolve()
    log_file = run_dir / "logs" / f"{NAME}.log"
    lake = lake_location(settings)

    def ready() -> bool:
        """The ready line after the last start header (the log is appended to across runs)."""
        if not log_file.exists():
            return False
        text = log_file.read_text(errors="replace")
        return READY_LINE in text[text.rfind(f"starting {NAME}:") :]

    return ManagedProcess(
        name=NAME,
        argv=[*off_verdict_path(), sys.executable, "-m", "fraudstream.cli.main", "lake", "archive"],
        run_dir=run_dir,
        env={**settings_env(settings), "FRAUDSTREAM_LAKE_DIR": lake},
        host=settings.host,
        ready_check=ready,
        address=f"{settings.topic_transactions}, {settings.topic_labels}, {settings.topic_predictions} → {lake}",
        stop_timeout=30.0,
    )
