"""What every benchmark script shares: where results go, the argument parser (with ``--out``), the
machine block, percentiles, the engines of a run, the matplotlib boilerplate (``figure``,
``grouped_bars``), and writing a report as JSON with a PNG beside it (``write_report``).

One schema for every result file: a JSON object with ``"benchmark"`` (the script's name for what it
measures), the script's own figures, and ``"machine"``, one block (:class:`MachineBlock`)::

    "machine": {
      "cpus": 2,                      # os.cpu_count()
      "python": "3.12.3",             # platform.python_version()
      "platform": "Linux-6.8-...",    # platform.platform()
      "load_avg_1m_start": 1.93,      # 1-minute load average when the run began
      "load_avg_1m_end": 2.41,        # ... and when its report was written
      "measured_at": "2026-12-03T07:40:00Z"
    }

The load is kept because the figures move with it: the development box has two cores and other
work shares them. A script that times several runs records each run's load under the same two
names (``load_avg_1m_start`` / ``load_avg_1m_end``, via :class:`LoadSpan`).

Result files written before this module (in ``benchmarks/results/``) keep their old load keys
(``load_average_1m``, ``load_avg``, ``load_at_start``, ``load_average_before``, ...) until their
benchmark is run again; they are not re-run just to rename keys (some take many minutes).

The benchmarks that drive the whole live pipeline (latency, recovery, chaos, soak) share
``_live.py`` as well: starting it, seeding cards, paced sending, process CPU/RSS, consumer lag.

Scripts import this as ``from _common import ...``: ``python benchmarks/bench_x.py`` puts
``benchmarks/`` first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
DPI = 110


def parser(doc: str | None, default_out: str | Path | None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` described by the docstring's first paragraph, with the standard ``--out``.

    ``default_out`` is a file name under :data:`RESULTS` (or a path); ``None`` leaves ``--out``
    unset, for a script whose default name depends on other options.
    """
    p = argparse.ArgumentParser(description=" ".join(doc.strip().split("\n\n")[0].split()) if doc else None)
    default = None if default_out is None else RESULTS / default_out
    p.add_argument(
        "--out",
        type=Path,
        default=default,
        help=f"result JSON; a PNG is written beside it (default: {default or 'see the script doc'})",
    )
    return p


def load_1m() -> float:
    """The 1-minute load average now, rounded: what the figures are read against."""
    return round(os.getloadavg()[0], 2)


class LoadSpan:
    """The load at the start of a span of work (taken when this is made) and, when asked, at its end."""

    def __init__(self) -> None:
        self.start = load_1m()

    def keys(self) -> dict[str, float]:
        return {"load_avg_1m_start": self.start, "load_avg_1m_end": load_1m()}


class MachineBlock(BaseModel):
    """The ``"machine"`` block of every result file (see the module docstring)."""

    cpus: int
    python: str
    platform: str
    load_avg_1m_start: float
    load_avg_1m_end: float
    measured_at: str


class Machine(LoadSpan):
    """Made when a benchmark starts; :meth:`block` at the end gives the ``"machine"`` block."""

    def block(self) -> dict[str, Any]:
        return MachineBlock(
            cpus=os.cpu_count() or 1,
            python=platform.python_version(),
            platform=platform.platform(),
            measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **self.keys(),
        ).model_dump()


def percentiles(
    values: Iterable[float], qs: Iterable[float] = (50, 99), *, suffix: str = "", digits: int = 2
) -> dict[str, float | int | None]:
    """``p50``, ``p99`` (or the ``qs`` asked for), ``max`` and ``n`` of ``values``, each key + ``suffix``.

    Linear interpolation between ranks (numpy's default), so that every script's p99 means the same.
    No values: ``n`` 0 and ``None`` for the rest (JSON ``null``, not ``NaN``).
    """
    import numpy as np

    a = np.asarray(list(values), dtype=float)
    keys = [f"p{q:g}" for q in qs] + ["max"]
    if a.size == 0:
        return {**{k + suffix: None for k in keys}, "n": 0}
    figures = [*np.percentile(a, list(qs)), a.max()]
    return {**{k + suffix: round(float(v), digits) for k, v in zip(keys, figures, strict=True)}, "n": int(a.size)}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def figure(path: Path, nrows: int = 1, ncols: int = 1, **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """``(fig, axes)`` to draw on; on leaving, laid out tight, saved to ``path`` at :data:`DPI` and closed."""
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, **subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)


@contextlib.contextmanager
def engines(state_dir: Path, names: Iterable[str]) -> Iterator[Any]:
    """Settings on free ports of their own: the engines the env points at (``FRAUDSTREAM_KAFKA_BOOTSTRAP``,
    ``AWS_ENDPOINT_URL``, ``FRAUDSTREAM_FLINK_REST``) are used as they are, the other ``names`` are started
    here in ``state_dir`` and stopped afterwards. Never the default-port stack another user may run."""
    from fraudstream.stack.manager import Stack
    from fraudstream.testing.engines import make_test_settings

    settings = make_test_settings(state_dir)
    stack = Stack(settings)
    private = [n for n in names if n not in stack.external_engines()]
    try:
        if private:
            print(f"starting {', '.join(private)} ...", flush=True)
            stack.up(only=private)
        yield settings
    finally:
        if private:
            stack.down(only=private)


def grouped_bars(ax: Any, categories: list[Any], series: dict[str, list[float]], fmt: str = "%.0f") -> None:
    """The bars of every series side by side over each category, each bar labelled with its value."""
    import numpy as np

    width = 0.8 / max(1, len(series))
    x = np.arange(len(categories))
    for k, (label, values) in enumerate(series.items()):
        ax.bar_label(ax.bar(x + k * width, values, width, label=label), fmt=fmt, fontsize=8)
    ax.set_xticks(x + width * (len(series) - 1) / 2, [str(c) for c in categories])


def write_report(out_json: Path, payload: dict[str, Any], plot: Callable[[Path], None] | None = None) -> Path:
    """Check ``payload`` against the schema, write it as ``out_json`` and ``plot(png)`` beside it.

    Returns the PNG's path (written only when ``plot`` is given).
    """
    if not isinstance(payload.get("benchmark"), str):
        raise ValueError('a result needs "benchmark": the name of what it measures')
    MachineBlock.model_validate(payload.get("machine"))
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(payload, indent=2) + "\n")
    png = out_json.with_suffix(".png")
    if plot is not None:
        plot(png)
    return png
