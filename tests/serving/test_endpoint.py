"""The endpoint contract against a real uvicorn process (``endpoint_url``) serving the trained model."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from fraudstream import features as F
from fraudstream.model import registry
from fraudstream.model.dataset import feature_matrix, load_training_set
from fraudstream.model.training import predict

pytestmark = pytest.mark.integration

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(endpoint_url: str):
    with httpx.Client(base_url=endpoint_url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def served(trained_model_dir: Path) -> registry.ModelMetadata:
    return registry.load_metadata(trained_model_dir)


def _csv_rows(n: int, width: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, 5, size=(n, width))
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows) + "\n"


def test_ping_and_model_info(client: httpx.Client, served: registry.ModelMetadata) -> None:
    ping = client.get("/ping")
    assert ping.status_code == 200 and ping.json()["model_version"] == served.version
    info = client.get("/model").json()
    assert info["feature_names"] == served.feature_names and info["threshold"] == served.threshold


def test_single_row_csv(client: httpx.Client, served: registry.ModelMetadata) -> None:
    r = client.post("/invocations", content=_csv_rows(1, len(served.feature_names)), headers=CSV)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert len(lines) == 1 and 0.0 <= float(lines[0]) <= 1.0
    assert r.headers["x-model-version"] == served.version
    assert float(r.headers["x-threshold"]) == served.threshold


def test_many_rows_csv_and_missing_fields(
    client: httpx.Client, served: registry.ModelMetadata, trained_model_dir: Path
) -> None:
    width = len(served.feature_names)
    body = _csv_rows(500, width) + "120.0" + "," * (width - 1) + "\n"  # last row: amount only
    r = client.post("/invocations", content=body, headers=CSV)
    assert r.status_code == 200, r.text
    probs = [float(v) for v in r.text.splitlines()]
    assert len(probs) == 501 and all(0.0 <= p <= 1.0 for p in probs)
    booster = registry.load_booster(trained_model_dir, served.version)
    expected = booster.inplace_predict(np.array([[120.0] + [np.nan] * (width - 1)], dtype=np.float32))
    assert probs[-1] == float(expected[0])


def test_json_in_json_out_and_accept_switches_format(client: httpx.Client, served: registry.ModelMetadata) -> None:
    width = len(served.feature_names)
    row = [25.0] + [1.0] * (width - 1)
    r = client.post("/invocations", json={"instances": [row, [25.0] + [None] * (width - 1)]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert len(doc["predictions"]) == 2
    assert doc["model_version"] == served.version and doc["feature_set"] == served.feature_set
    assert doc["threshold"] == served.threshold
    as_csv = client.post("/invocations", json={"instances": [row]}, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200 and float(as_csv.text) == doc["predictions"][0]
    as_json = client.post(
        "/invocations", content=",".join(map(str, row)), headers={**CSV, "Accept": "application/json"}
    )
    assert as_json.json()["predictions"] == doc["predictions"][:1]


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        ("1,2,3\n", CSV, 400, "line 1 has 3 column(s)"),
        ("WIDE_OK\n1,2\n", CSV, 400, "line 2 has 2 column(s)"),
        ("WIDE_X\n", CSV, 400, "is not a number"),
        ("WIDE_NAN\n", CSV, 400, "not a finite number"),
        ("WIDE_INF\n", CSV, 400, "not a finite number"),
        ("", CSV, 400, "empty body"),
        ('{"instances": [[1, NaN]]}', JSON, 400, "NaN"),
        ('{"instances": [[1, 2]]}', JSON, 400, "instance 0 has 2 value(s)"),
        ('{"instances": [[1, 2]', JSON, 400, "invalid JSON"),
        ("WIDE_OK\n", {"Content-Type": "text/plain"}, 415, "unsupported media type"),
        ("WIDE_OK\n", {}, 415, "unsupported media type"),
        ("WIDE_OK\n", {**CSV, "Accept": "image/png"}, 406, "accept text/csv or application/json"),
        ("WIDE_OK\n", {**CSV, "Accept": "text/csv;q=0, application/json;q=0"}, 406, "cannot answer"),
        ("WIDE_US\n", CSV, 400, "'1_000' is not a number"),
        ("WIDE_NEG\n", CSV, 400, "is negative"),
        ('{"instances": [[WIDE_NEG]]}', JSON, 400, "value 0 (amount): -12.5 is negative"),
        ("[" * 50_000, JSON, 413, "at most 10,000 rows"),
        ("WIDE_OK\n" * 10_001, CSV, 413, "at most 10,000 rows"),
    ],
)
def test_bad_input_gets_its_4xx_and_message(
    client: httpx.Client, served: registry.ModelMetadata, body: str, headers: dict, status: int, fragment: str
) -> None:
    width = len(served.feature_names)
    ok = ",".join(["1"] * width)
    body = (
        body.replace("WIDE_OK", ok)
        .replace("WIDE_X", ",".join(["1"] * (width - 1) + ["abc"]))
        .replace("WIDE_NAN", ",".join(["nan"] + ["1"] * (width - 1)))
        .replace("WIDE_INF", ",".join(["1"] * (width - 1) + ["inf"]))
        .replace("WIDE_US", ",".join(["1_000"] + ["1"] * (width - 1)))
        .replace("WIDE_NEG", ",".join(["-12.5"] + ["1"] * (width - 1)))
    )
    r = client.post("/invocations", content=body.encode(), headers=headers)
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"]


@pytest.mark.parametrize(
    ("accept", "answer"),
    [("application/*", "application/json"), ("*/*", "text/csv"), ("text/*, application/json;q=0.5", "text/csv")],
)
def test_accept_wildcards_and_q_values(
    client: httpx.Client, served: registry.ModelMetadata, accept: str, answer: str
) -> None:
    row = ",".join(["1"] * len(served.feature_names))
    r = client.post("/invocations", content=row, headers={**CSV, "Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(answer)


def test_huge_body_is_413(client: httpx.Client, served: registry.ModelMetadata) -> None:
    row = (",".join(["1.5"] * len(served.feature_names)) + "\n").encode()
    body = row * (7 * 1024 * 1024 // len(row))
    r = client.post("/invocations", content=body, headers=CSV)
    assert r.status_code == 413 and "exceeds the limit" in r.json()["message"]


def test_unknown_path_and_method_are_4xx(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/invocations").status_code == 405


def test_metrics_report_requests_errors_latency_and_model(client: httpx.Client, served: registry.ModelMetadata) -> None:
    client.post("/invocations", content=b"1,2\n", headers=CSV)
    text = client.get("/metrics").text
    assert 'fraudstream_endpoint_requests_total{endpoint="invocations",status="200"}' in text
    assert 'fraudstream_endpoint_errors_total{reason="column_count"}' in text
    assert 'fraudstream_endpoint_request_seconds_bucket{endpoint="invocations",le="0.005"}' in text
    assert f'fraudstream_model_info{{feature_set="{served.feature_set}",version="{served.version}"}} 1.0' in text
    assert "# TYPE fraudstream_endpoint_server_errors_total counter" in text  # 5xx by reason, for the alarm
    assert "# TYPE fraudstream_endpoint_connections_closed_total counter" in text


@pytest.mark.parametrize("feature_set", ["extended"])
def test_scorer_endpoint_and_trainer_agree_on_the_same_rows(
    endpoint_url: str, trained_model_dir: Path, model_training_set_path: Path, feature_set: str
) -> None:
    """Training-set rows → the scorer's input function → the endpoint (via the scorer's client) give
    exactly the probabilities the trainer computes for those rows: one feature function, one model."""
    from fraudstream.endpoint_client import HttpEndpoint
    from fraudstream.handlers.fraud_scorer import ScoringRow, model_inputs
    from fraudstream.messages import CardAggregate

    served = registry.load_metadata(trained_model_dir)
    assert served.feature_set == feature_set
    frame = load_training_set(model_training_set_path)
    sample = frame.iloc[np.r_[0:50, len(frame) - 50 : len(frame)]]  # first rows have no 1-week history
    sample = sample[sample[F.NUM_TRANS_LAST_10M].notna()]
    rows = []
    for rec in sample.itertuples(index=False):
        agg = CardAggregate(
            tid=rec.tid,
            cc_num="4" + "0" * 15,
            amount=rec.amount,
            trans_time=rec.trans_time.tz_localize("UTC").to_pydatetime(),
            num_trans_last_10m=int(getattr(rec, F.NUM_TRANS_LAST_10M)),
            avg_amt_last_10m=getattr(rec, F.AVG_AMT_LAST_10M),
            max_amt_last_10m=getattr(rec, F.MAX_AMT_LAST_10M),
        )
        week_n, week_avg = getattr(rec, F.NUM_TRANS_LAST_1W), getattr(rec, F.AVG_AMT_LAST_1W)
        week = None if np.isnan(week_n) else {F.NUM_TRANS_LAST_1W: int(week_n), F.AVG_AMT_LAST_1W: week_avg}
        rows.append(ScoringRow(record=None, agg=agg, batch_features=week))  # type: ignore[arg-type]
    scorer_matrix = model_inputs(rows, feature_set)
    trainer_matrix = feature_matrix(sample, feature_set)
    np.testing.assert_array_equal(scorer_matrix, trainer_matrix)
    assert np.isnan(trainer_matrix).any() and (~np.isnan(trainer_matrix[:, 1])).any()

    booster = registry.load_booster(trained_model_dir, served.version)
    trainer_probs = predict(booster, trainer_matrix).astype(float)
    endpoint = HttpEndpoint(endpoint_url)
    try:
        result = endpoint.predict([[None if np.isnan(v) else float(v) for v in r] for r in scorer_matrix])
    finally:
        endpoint.close()
    assert result.model_version == served.version and result.threshold == served.threshold
    assert result.probabilities == trainer_probs.tolist()
