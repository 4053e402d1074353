"""docs/metrics.md lists exactly the metrics the code defines; every service's /metrics text parses."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.handlers import metrics as handler_metrics
from fraudstream.monitor.metrics import MonitorMetrics

from .metric_catalogue import catalogue

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
ROW = re.compile(r"^\| (\w+) \| `(fraudstream_\w+)` \| (\w+) \| `?([\w, ]*)`? \| (.+) \|$")


def test_doc_table_matches_the_code() -> None:
    documented = {m.groups() for line in DOC.read_text().splitlines() if (m := ROW.match(line))}
    assert documented == set(catalogue())


def test_handler_and_monitor_metrics_parse() -> None:
    handler_metrics.observe_batch("fraud-scorer", 10, 0.01, "ok")
    handler_metrics.observe_batch("fraud-scorer", 10, 0.5, "failed")
    text = generate_latest(REGISTRY).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    records = [s for s in families["fraudstream_handler_records"].samples if s.name.endswith("_total")]
    assert records[0].value >= 10
    assert any(s.labels.get("outcome") == "failed" for s in families["fraudstream_handler_batches"].samples)
    monitor_text = generate_latest(MonitorMetrics().registry).decode()
    assert {f.name for f in text_string_to_metric_families(monitor_text)} >= {"fraudstream_monitor_records"}
