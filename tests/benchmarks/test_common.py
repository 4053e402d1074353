"""Unit tests of ``benchmarks/_common.py``: the result schema every benchmark script writes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_common.py"


@pytest.fixture(scope="module")
def common():
    """``benchmarks/_common.py`` loaded by path (``benchmarks/`` is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_common", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the model's annotations through it
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_machine_block_has_the_one_set_of_keys(common):
    block = common.Machine().block()
    assert set(block) == {"cpus", "python", "platform", "load_avg_1m_start", "load_avg_1m_end", "measured_at"}
    assert block["cpus"] >= 1
    assert isinstance(block["load_avg_1m_start"], float) and isinstance(block["load_avg_1m_end"], float)
    assert block["measured_at"].endswith("Z")


def test_load_span_keys_match_the_machine_block(common):
    assert set(common.LoadSpan().keys()) == {"load_avg_1m_start", "load_avg_1m_end"}


def test_write_report_writes_json_and_png(common, tmp_path):
    def plot(png: Path) -> None:
        with common.figure(png, figsize=(3, 2)) as (_, ax):
            ax.plot([1, 2, 3], [3, 1, 2])

    payload = {"benchmark": "unit", "figure": 1.5, "machine": common.Machine().block()}
    out = tmp_path / "deep" / "unit.json"
    png = common.write_report(out, payload, plot=plot)
    assert json.loads(out.read_text()) == payload
    assert png == tmp_path / "deep" / "unit.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_report_without_plot_writes_no_png(common, tmp_path):
    png = common.write_report(tmp_path / "a.json", {"benchmark": "a", "machine": common.Machine().block()})
    assert (tmp_path / "a.json").exists() and not png.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"machine": None},  # no "benchmark"
        {"benchmark": "x"},  # no machine block
        {"benchmark": "x", "machine": {"cpus": 2, "load_average_1m": 1.0}},  # an old key set
    ],
)
def test_write_report_refuses_a_payload_off_the_schema(common, tmp_path, payload):
    with pytest.raises((ValueError, ValidationError)):
        common.write_report(tmp_path / "x.json", payload)
    assert not (tmp_path / "x.json").exists()


def test_percentiles_on_a_known_list(common):
    values = list(range(1, 101))  # 1..100: linear interpolation between ranks
    assert common.percentiles(values) == {"p50": 50.5, "p99": 99.01, "max": 100.0, "n": 100}
    assert common.percentiles(values, (90,), suffix="_ms", digits=0) == {"p90_ms": 90.0, "max_ms": 100.0, "n": 100}


def test_percentiles_of_nothing_are_null(common):
    assert common.percentiles([], suffix="_ms") == {"p50_ms": None, "p99_ms": None, "max_ms": None, "n": 0}


def test_parser_describes_and_defaults_out(common):
    p = common.parser("First line.\n\nMore.", "thing.json")
    assert p.description == "First line."
    assert common.parser("A first sentence\nwrapped.\n\nMore.", None).description == "A first sentence wrapped."
    assert p.parse_args([]).out == common.RESULTS / "thing.json"
    assert p.parse_args(["--out", "/tmp/x.json"]).out == Path("/tmp/x.json")
    assert common.parser(None, None).parse_args([]).out is None
