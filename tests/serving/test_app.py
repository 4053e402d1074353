"""The ASGI app in-process with a small real model: input faults are 4xx, server faults 5xx (logged,
counted), scoring runs off the event loop, limits come from ``ServingLimits``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.serving import app as app_module
from fraudstream.serving.app import create_app
from fraudstream.serving.limits import ServingLimits
from fraudstream.serving.predictor import Predictor

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}
ROW = "123.45,1.08,0.95,0.31,2,1.6"


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path) -> Predictor:
    return Predictor.load(tiny_model_dir)


@pytest.fixture(scope="module")
def client(predictor: Predictor, app_client):
    with app_client(create_app(predictor)) as c:
        yield c


def _metric(client, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class _BrokenBooster:
    def inplace_predict(self, *_args, **_kwargs):
        raise RuntimeError("XGBoostError: simulated failure inside the model library")


def test_a_model_failure_is_a_logged_counted_500(
    predictor: Predictor, app_client, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Predictor(_BrokenBooster(), predictor.metadata)
    with app_client(create_app(broken)) as c:
        with caplog.at_level(logging.ERROR, logger="fraudstream.serving.app"):
            r = c.post("/invocations", content=ROW, headers=CSV)
        assert r.status_code == 500 and r.json()["error"] == "model"
        assert "simulated failure" not in r.text  # the cause is in the log, not in the answer
        assert _metric(c, 'fraudstream_endpoint_server_errors_total{reason="model"}') == 1
        assert _metric(c, 'fraudstream_endpoint_requests_total{endpoint="invocations",status="500"}') == 1
    record = next(r for r in caplog.records if "server error (model)" in r.getMessage())
    assert record.exc_info and "simulated failure" in str(record.exc_info[1])


def test_an_internal_bug_is_a_500_not_a_422(
    client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def bug(*_args, **_kwargs):
        raise ZeroDivisionError("a bug in the parser")

    monkeypatch.setattr(app_module, "parse_body", bug)
    before = _metric(client, 'fraudstream_endpoint_server_errors_total{reason="internal"}')
    with caplog.at_level(logging.ERROR, logger="fraudstream.serving.app"):
        r = client.post("/invocations", content=ROW, headers=CSV)
    assert r.status_code == 500 and r.json() == {
        "error": "internal",
        "message": "internal server error (ZeroDivisionError); it is logged",
    }
    assert _metric(client, 'fraudstream_endpoint_server_errors_total{reason="internal"}') == before + 1
    assert any(r.exc_info and isinstance(r.exc_info[1], ZeroDivisionError) for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"[" * 100_000, JSON, 413, "too_many_rows"),  # nesting bomb (was a 422 RecursionError)
        (b"[" * 3000 + b"]" * 3000, JSON, 400, "bad_json"),  # nesting within the row cap
        (b"[[" + b"9" * 4000 + b",1,1,1,1,1]]", JSON, 400, "too_long"),  # was a 422 OverflowError
        (b"[[" + b"9" * 5000 + b",1,1,1,1,1]]", JSON, 400, "too_long"),  # was a 422 ValueError
        (b"1_000,1,1,1,1,1\n", CSV, 400, "non_numeric"),  # float() accepted it
        ("\u0661\u0662,1,1,1,1,1\n".encode(), CSV, 400, "non_numeric"),  # float() read 12
        (b"-5,1,1,1,1,1\n", CSV, 400, "negative"),  # passed before
        (b"[[-5,1,1,1,1,1]]", JSON, 400, "negative"),
        (b",,,,,\n" * 20_000, CSV, 413, "too_many_rows"),
        (b"1,1,1,1,1,1\n", {**CSV, "Accept": "image/png"}, 406, "accept"),
        (b"1,1,1,1,1,1\n", {"Content-Type": "text/plain"}, 415, "content_type"),
    ],
)
def test_input_faults_are_4xx_with_a_message(client, body: bytes, headers: dict, status: int, reason: str):
    r = client.post("/invocations", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"] == reason and r.json()["message"]


@pytest.mark.parametrize(
    ("accept", "request_headers", "answer"),
    [
        ("application/*", CSV, "application/json"),
        ("*/*", CSV, "text/csv"),
        ("text/*", JSON, "text/csv"),
        ("text/csv;q=0.2, application/json;q=0.8", CSV, "application/json"),
    ],
)
def test_accept_wildcards_and_q_values(client, accept: str, request_headers: dict, answer: str) -> None:
    body = ROW if request_headers is CSV else f"[[{ROW}]]"
    r = client.post("/invocations", content=body, headers={**request_headers, "Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith(answer)


def test_scoring_runs_in_a_worker_thread_not_on_the_event_loop(predictor: Predictor, app_client) -> None:
    seen: list[bool] = []

    class Recording(Predictor):
        def predict(self, matrix: np.ndarray) -> np.ndarray:
            try:
                asyncio.get_running_loop()
                seen.append(True)  # called on the event loop
            except RuntimeError:
                seen.append(False)  # called in a worker thread
            return super().predict(matrix)

    recording = Recording(predictor.booster, predictor.metadata)
    batch = (ROW + "\n") * 100  # 2.8 KB, above inline_max_bytes
    with app_client(create_app(recording)) as c:
        assert c.post("/invocations", content=batch, headers=CSV).status_code == 200
        assert c.post("/invocations", content=f"[[{ROW}]]", headers=JSON).status_code == 200  # 30 bytes
    assert seen == [False, True]  # a body of a few rows is cheaper to score than to hand to a thread
    seen.clear()
    with app_client(create_app(recording, ServingLimits(inline_max_bytes=0))) as c:
        assert c.post("/invocations", content=ROW, headers=CSV).status_code == 200
    assert seen == [False]


def test_limits_are_applied(predictor: Predictor, app_client) -> None:
    limits = ServingLimits(max_rows=3, max_body_bytes=200, max_field_chars=8)
    with app_client(create_app(predictor, limits)) as c:
        assert c.post("/invocations", content=(ROW + "\n") * 3, headers=CSV).status_code == 200
        r = c.post("/invocations", content=("1,1,1,1,1,1\n") * 4, headers=CSV)
        assert r.status_code == 413 and "at most 3 rows" in r.json()["message"]
        r = c.post("/invocations", content=b"1,1,1,1,1,1\n" * 20, headers=CSV)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        r = c.post("/invocations", content=b"123.456789,1,1,1,1,1\n", headers=CSV)
        assert r.status_code == 400 and r.json()["error"] == "too_long"


def test_limits_from_environment_and_overrides(monkeypatch) -> None:
    for field in ServingLimits.__dataclass_fields__:
        monkeypatch.delenv(ServingLimits.env_name(field), raising=False)
    assert ServingLimits.from_env() == ServingLimits()
    monkeypatch.setenv("FRAUDSTREAM_SERVE_MAX_ROWS", "500")
    monkeypatch.setenv("FRAUDSTREAM_SERVE_HEADER_TIMEOUT_S", "2.5")
    monkeypatch.setenv("FRAUDSTREAM_SERVE_KEEP_ALIVE_S", "")  # empty: not set
    limits = ServingLimits.from_env(body_timeout_s=7, max_rows=None)
    assert (limits.max_rows, limits.header_timeout_s, limits.body_timeout_s) == (500, 2.5, 7.0)
    assert limits.max_body_bytes == 6 * 1024 * 1024 and limits.keep_alive_s == ServingLimits().keep_alive_s
    monkeypatch.setenv("FRAUDSTREAM_SERVE_MAX_ROWS", "lots")
    with pytest.raises(ValueError, match="FRAUDSTREAM_SERVE_MAX_ROWS='lots' is not a valid int"):
        ServingLimits.from_env()
    with pytest.raises(TypeError, match="unknown serving limit"):
        ServingLimits.from_env(max_cows=1)
    with pytest.raises(ValueError, match="max_inflight must be > 0"):
        ServingLimits(max_inflight=0)


@given(
    body=st.binary(max_size=600) | st.text(alphabet='0123456789.,-+eE_ \n[]{}"nul:a', max_size=300).map(str.encode),
    content_type=st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8", "text/plain", ""]),
    accept=st.sampled_from(["", "*/*", "application/*", "text/*;q=0.5, image/png", "image/png", "x"]),
)
@settings(max_examples=150, deadline=3000, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_body_gives_a_5xx(client, body: bytes, content_type: str, accept: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if accept:
        headers["Accept"] = accept
    r = client.post("/invocations", content=body, headers=headers)
    assert r.status_code < 500, r.text
    assert r.status_code == 200 or r.json()["message"]


def test_container_entry_point_reads_version_host_and_port_from_settings(monkeypatch) -> None:
    """``python -m fraudstream.serving serve``: SageMaker's SAGEMAKER_BIND_TO_PORT over endpoint_port."""
    from fraudstream.serving import __main__ as entry

    started: list[tuple] = []
    monkeypatch.setattr(entry, "run_server", lambda *args: started.append(args))
    for name in ("SAGEMAKER_BIND_TO_PORT", "FRAUDSTREAM_SERVE_HOST", "FRAUDSTREAM_MODEL_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRAUDSTREAM_ENDPOINT_PORT", "9000")
    assert entry.main(["serve"]) == 0
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9123")
    monkeypatch.setenv("FRAUDSTREAM_SERVE_HOST", "127.0.0.1")
    monkeypatch.setenv("FRAUDSTREAM_MODEL_VERSION", "v7")
    assert entry.main(["serve"]) == 0
    assert started == [(None, "latest", "0.0.0.0", 9000), (None, "v7", "127.0.0.1", 9123)]
