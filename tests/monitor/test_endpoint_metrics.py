"""The endpoint's /metrics read by the Prometheus text parser, from the real ``fraudstream serve`` process.

The other services are parsed where they are tested (handler runners and clock: tests/stack, producer and
replay: test_kafka_metrics.py, monitor and Flink bridge: test_monitor_kafka.py and test_flink_bridge.py,
archiver and supervisor: test_lake_supervisor_metrics.py); the endpoint's own tests match text lines.
"""

from __future__ import annotations

import httpx
import pytest

from .scrape import scrape, value

pytestmark = pytest.mark.integration


def test_endpoint_metrics_parse(endpoint_url: str, trained_model_dir) -> None:
    from fraudstream.model import registry

    served = registry.load_metadata(trained_model_dir, registry.LATEST)
    row = ",".join(["120.5", "1.0", "0.3", "0.04", "1", "1.0"][: len(served.feature_names)])
    before = scrape(f"{endpoint_url}/metrics")
    answer = httpx.post(f"{endpoint_url}/invocations", content=row + "\n", headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    after = scrape(f"{endpoint_url}/metrics")
    ok = {"endpoint": "invocations", "status": "200"}
    assert (
        value(after, "fraudstream_endpoint_requests_total", **ok)
        == value(before, "fraudstream_endpoint_requests_total", **ok) + 1
    )
    assert value(after, "fraudstream_model_info", version=served.version, feature_set=served.feature_set) == 1.0
    assert value(after, "fraudstream_endpoint_request_seconds_count", endpoint="invocations") >= 1
