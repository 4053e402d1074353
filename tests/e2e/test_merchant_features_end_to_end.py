"""Merchant features end to end (issue 15): nightly merchant group → transaction with a merchant through
Kafka → Flink (``merchant`` passed through to ``cc-agg``) → fraud-scorer (reads ``merchant-fg`` by it) →
endpoint serving a ``merchant-risk`` model → prediction.

A prediction does not carry the model's inputs, so what the scorer read is checked through what it
got back: each prediction's probability equals the served model's on the inputs built from the
nightly group's stored item of the transaction's merchant, and differs from the probability with the
merchant values missing (the model is trained so that merchant risk decides). A transaction without
a merchant, and one whose merchant the group does not know, are scored with missing merchant values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOT, COLD, UNKNOWN = "shop-hot", "shop-cold", "shop-nowhere"


def risk_training_set(path: Path) -> Path:
    """A training set where a transaction is fraud exactly when its merchant's 7-day risk is high."""
    rng = np.random.default_rng(3)
    times = pd.date_range("2020-01-01", "2020-06-01", freq="2h", inclusive="left")
    n = len(times)
    risk = rng.uniform(0, 1, n)
    frame = pd.DataFrame(
        {
            "tid": [f"t{i}" for i in range(n)],
            "trans_time": times,
            "amount": rng.uniform(1, 500, n).round(2),
            "fraud_label": (risk > 0.7).astype(int),
            F.NUM_TRANS_LAST_10M: rng.integers(1, 4, n),
            F.AVG_AMT_LAST_10M: rng.uniform(1, 500, n),
            F.MAX_AMT_LAST_10M: rng.uniform(1, 900, n),
            F.NUM_TRANS_LAST_1W: rng.integers(1, 30, n).astype(float),
            F.AVG_AMT_LAST_1W: rng.uniform(1, 500, n),
            "dt": times.strftime("%Y-%m-%d"),
        }
    )
    for name in (*F.CARD_WINDOW_FEATURES, *F.MERCHANT_FEATURES):
        frame[name] = rng.uniform(1, 50, n)
    for days, (count, share) in F.MERCHANT_WINDOWS.items():
        frame[share] = risk if days == 7 else rng.uniform(0, 1, n)
        frame.loc[frame.index % 9 == 0, [count, share]] = np.nan  # rows without a merchant
    frame.to_parquet(path, partition_cols=["dt"], index=False)
    return path


def nightly_input(path: Path, as_of: date) -> Path:
    """Two merchants' transactions 8 to 12 days before ``as_of`` (inside the 7-day-delayed windows),
    labelled a day later: ``shop-hot`` 4 of 5 frauds, ``shop-cold`` none."""
    rows = []
    for i in range(10):
        when = datetime.combine(as_of, datetime.min.time(), UTC) - timedelta(days=8 + i % 5, hours=i)
        shop = HOT if i % 2 else COLD
        fraud = int(shop == HOT and i != 9)
        rows.append(
            {
                "tid": f"night-{i}",
                "cc_num": f"55550000000000{i:02d}",
                "amount": 20.0 + i,
                "trans_time": when,
                "merchant": shop,
                "fraud_label": fraud,
                "labelled_at": when + timedelta(days=1) if fraud else None,
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("trans_time", "labelled_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ms, UTC]")
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def merchant_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A registry whose latest model is ``merchant-risk``, and a real endpoint serving it."""
    from fraudstream.model.pipeline import train_feature_sets
    from fraudstream.model.training import TrainingConfig
    from fraudstream.testing.models import start_endpoint, stop_endpoint

    tmp = tmp_path_factory.mktemp("merchant-model")
    config = TrainingConfig(max_rounds=20, nthread=1, threshold_rule="best_f1")
    (meta,) = train_feature_sets(risk_training_set(tmp / "ts"), tmp / "models", ("merchant-risk",), config)
    assert meta.feature_set == "merchant-risk"
    process, url = start_endpoint(tmp / "models", tmp / "serve.log")
    try:
        yield tmp / "models", url
    finally:
        stop_endpoint(process)


@pytest.fixture(scope="module")
def pipeline(
    settings: Settings,
    kafka_bootstrap: str,
    dynamodb_endpoint: str,
    flink_rest: str,
    spark: Any,
    merchant_model: tuple[Path, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """Topics and tables of this module, the nightly run loaded, the job and both handler runners up."""
    from fraudstream.batch.nightly import run_nightly
    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.testing.engines import isolated_copy
    from fraudstream.testing.pipeline import running_pipeline

    model_dir, url = merchant_model
    s = isolated_copy(settings, f"e2e-merchant-{uuid.uuid4().hex[:8]}", model_dir=model_dir, endpoint_url_override=url)
    ensure_tables(s)
    as_of = datetime.now(UTC).date()
    summary = run_nightly(spark, str(nightly_input(tmp_path_factory.mktemp("night") / "tx.parquet", as_of)), as_of, s)
    with running_pipeline(s):
        yield s, summary


def test_merchant_features_reach_the_prediction(pipeline, merchant_model) -> None:
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import MERCHANT_GROUP
    from fraudstream.serving.predictor import Predictor
    from fraudstream.streaming import testkit
    from fraudstream.streaming.testkit import Tx

    s, summary = pipeline
    assert summary["merchant"] == 2
    now = datetime.now(UTC)
    sent = {
        "with-hot": Tx(f"hot-{uuid.uuid4().hex[:6]}", "5555111100000001", 42.0, now, merchant=HOT),
        "with-cold": Tx(f"cold-{uuid.uuid4().hex[:6]}", "5555111100000002", 42.0, now, merchant=COLD),
        "unknown": Tx(f"unk-{uuid.uuid4().hex[:6]}", "5555111100000003", 42.0, now, merchant=UNKNOWN),
        "none": Tx(f"none-{uuid.uuid4().hex[:6]}", "5555111100000004", 42.0, now),
    }
    testkit.produce(s, list(sent.values()))
    records = testkit.consume(s, s.topic_predictions, testkit.has_tids([t.tid for t in sent.values()]), timeout=90)
    predictions = {tid: values[0] for tid, values in testkit.by_tid(records).items()}
    assert all(p["feature_set"] == "merchant-risk" for p in predictions.values())

    store = DynamoFeatureStore(s)
    items = store.batch_get_keys({MERCHANT_GROUP: [HOT, COLD, UNKNOWN]})[MERCHANT_GROUP.key]
    assert items[UNKNOWN] is None
    assert items[HOT]["merchant_risk_7d"] == 0.8 and items[COLD]["merchant_risk_7d"] == 0.0
    model_dir, _ = merchant_model
    predictor = Predictor.load(model_dir)
    names = F.nightly_names("merchant-risk")

    def probability(prediction: dict[str, Any], merchant_item: dict[str, Any] | None) -> float:
        nightly = {
            n: [None if n not in F.MERCHANT_FEATURES or merchant_item is None else merchant_item.get(n)] for n in names
        }
        inputs = F.compute_model_inputs(
            amount=prediction["amount"],
            num_trans_last_10m=prediction["num_trans_last_10m"],
            avg_amt_last_10m=prediction["avg_amt_last_10m"],
            num_trans_last_1w=prediction["num_trans_last_1w"],
            avg_amt_last_1w=prediction["avg_amt_last_1w"],
            max_amt_last_10m=prediction["max_amt_last_10m"],
            feature_set="merchant-risk",
            nightly=nightly,
        )
        return float(predictor.predict(inputs.astype(np.float32))[0])

    for case, tx in sent.items():
        prediction = predictions[tx.tid]
        item = items.get(tx.merchant) if tx.merchant else None
        assert prediction["fraud_probability"] == pytest.approx(probability(prediction, item), abs=1e-6), case
    hot, cold = predictions[sent["with-hot"].tid], predictions[sent["with-cold"].tid]
    assert hot["fraud_probability"] != pytest.approx(probability(hot, None), abs=1e-3)  # the merchant decided
    assert hot["fraud_probability"] > cold["fraud_probability"]
