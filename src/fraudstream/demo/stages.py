"""Stage bookkeeping for the demo: a numbered heading per stage, its wall time, and whether it was reused.

Heavy work (generate, Spark batch, training, Flink submit) runs as the ordinary CLI commands in
child processes, so the demo does exactly what a user would type and each tool shows its own
progress; a failing command stops the demo with the command line that failed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fraudstream.demo.services import cli_argv
from fraudstream.settings import Settings, settings_env


class DemoError(RuntimeError):
    """A stage failed; the message says which and how to look into it."""


@dataclass
class StageRecord:
    """One stage's outcome: done, reused (skipped because its output exists) or failed."""

    number: int
    name: str
    seconds: float = 0.0
    status: str = "running"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StageLog:
    """Prints stage headings with rich and records timings."""

    console: Any
    total: int
    records: list[StageRecord] = field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageRecord]:
        record = StageRecord(number=len(self.records) + 1, name=name)
        self.records.append(record)
        self.console.rule(f"[bold cyan][{record.number}/{self.total}] {name}")
        started = time.perf_counter()
        try:
            yield record
        except BaseException:
            record.status = "failed"
            raise
        finally:
            record.seconds = round(time.perf_counter() - started, 1)
        if record.status == "running":
            record.status = "done"
        colour = "green" if record.status == "done" else "yellow"
        detail = f" — {record.detail}" if record.detail else ""
        self.console.print(f"[{colour}]{record.status}[/] in {record.seconds:.1f} s{detail}")

    @property
    def total_seconds(self) -> float:
        return round(sum(r.seconds for r in self.records), 1)


def run_cli(args: Sequence[str], settings: Settings, console: Any = None) -> None:
    """Run ``fraudstream ARGS`` in a child process with these settings; DemoError on a non-zero exit."""
    command = [*cli_argv(), *args]
    shown = "fraudstream " + " ".join(args)
    if console is not None:
        console.print(f"[dim]$ {shown}[/]")
    env = {**os.environ, **settings_env(settings)}
    result = subprocess.run(command, env=env, check=False)
    if result.returncode != 0:
        raise DemoError(f"`{shown}` failed with exit code {result.returncode}")
