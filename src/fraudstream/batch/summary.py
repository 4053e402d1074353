"""Run summaries: one dict per batch run, printed as a rich table and written as JSON.

The JSON sits next to the output (``<out>/_summary.json`` for a training set: Spark, pyarrow and
DuckDB globs skip ``_``-prefixed files) so a later reader knows what produced the data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SUMMARY_FILE = "_summary.json"


@contextmanager
def timed(summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Record ``started_at`` and ``duration_s`` of the block in ``summary``."""
    summary["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    start = time.perf_counter()
    try:
        yield summary
    finally:
        summary["duration_s"] = round(time.perf_counter() - start, 3)


def write_summary(summary: dict[str, Any], path: str | Path) -> Path | None:
    """Write ``summary`` as JSON at ``path`` (local paths only; remote outputs skip the file)."""
    text = str(path)
    if "://" in text and not text.startswith("file://"):
        return None
    target = Path(text.removeprefix("file://"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return target


def print_summary(summary: dict[str, Any], title: str) -> None:
    """Show ``summary`` as a two-column table (nested dicts are shown as JSON)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        table.add_row(key, shown)
    Console(stderr=True).print(table)
