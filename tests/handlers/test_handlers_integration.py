"""agg-writer and fraud-scorer on real Kafka, DynamoDB Local and a real endpoint process."""

from __future__ import annotations

import base64
import math

import pytest

from fraudstream import features as F
from fraudstream.endpoint_client import EndpointError, HttpEndpoint
from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP
from fraudstream.handlers import agg_writer, fraud_scorer
from fraudstream.handlers.msk_event import build_event, from_confluent
from fraudstream.handlers.resources import HandlerResources
from fraudstream.messages import CardAggregate, DeadLetter, Prediction, decode

pytestmark = pytest.mark.integration
A, B, C = "4000000000000001", "4000000000000002", "4000000000000003"
POISON = b'{"tid": "bad", "cc_num": "12", "amount": -3}'


def agg(tid: str, card: str, minute: int, amount: float, n10: int, avg10: float) -> CardAggregate:
    return CardAggregate(
        tid=tid,
        cc_num=card,
        amount=amount,
        trans_time=f"2020-03-02T10:{minute:02d}:00.000Z",
        num_trans_last_10m=n10,
        avg_amt_last_10m=avg10,
        max_amt_last_10m=max(amount, avg10),
    )


def poison_offset(event: dict) -> int:
    [offset] = [
        r["offset"] for recs in event["records"].values() for r in recs if base64.b64decode(r["value"]) == POISON
    ]
    return offset


def event_of(kafka_io, topic: str, expected: int) -> dict:
    """The MSK event of everything on ``topic`` (real records, every partition)."""
    records = [from_confluent(m) for m in kafka_io.read(topic, expected)]
    assert len(records) == expected
    return build_event(records, "arn:aws:kafka:us-east-1:000000000000:cluster/t/x", kafka_io.settings.kafka_bootstrap)


def test_agg_writer_newer_wins_and_dead_letters_poison(isolated_settings, kafka_io) -> None:
    s = isolated_settings
    res = HandlerResources(s)
    newer, older = agg("t2", A, 10, 20.0, 2, 15.0), agg("t1", A, 5, 10.0, 1, 10.0)
    kafka_io.produce_aggs([newer, POISON, agg("t3", B, 7, 5.0, 1, 5.0)])
    first = event_of(kafka_io, s.topic_agg, 3)
    assert agg_writer.handle(first, None, res) == {"batchItemFailures": []}
    # replay an older aggregate after the newer one, in a later batch: the newer stays
    kafka_io.produce_aggs([older])
    assert agg_writer.handle(event_of(kafka_io, s.topic_agg, 4), None, res) == {"batchItemFailures": []}

    store = DynamoFeatureStore(s)
    stored = store.get_record(STREAM_GROUP, A)
    assert (stored["tid"], stored["num_trans_last_10m"], stored["trans_time"]) == ("t2", 2, "2020-03-02T10:10:00.000Z")
    assert store.get_record(STREAM_GROUP, B)["tid"] == "t3"

    letters = [decode(DeadLetter, m.value()) for m in kafka_io.read(s.topic_dead_letter, 2)]
    assert len(letters) == 2  # the poison record, once per delivery (it came in both batches)
    assert {(d.stage, d.source_topic, d.partition, d.offset) for d in letters} == {
        ("agg-writer", s.topic_agg, 0, poison_offset(first))
    }
    assert letters[0].payload == POISON.decode() and "cc_num" in letters[0].error

    # a store outage is transient: each card's first offset is reported, its partition comes again
    broken = HandlerResources(s.model_copy(update={"table_agg": "no-such-table"}))
    response = agg_writer.handle(first, None, broken)
    idents = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    failed = {(ident["topic-partition"], ident["offset"]) for ident in idents}
    by_card = {
        decode(CardAggregate, base64.b64decode(r["value"])).cc_num: (key, r["offset"])
        for key, recs in first["records"].items()
        for r in recs
        if base64.b64decode(r["value"]) != POISON
    }
    assert failed == {by_card[A], by_card[B]}


def test_fraud_scorer_scores_batch_dead_letters_poison_and_survives_outage(scorer_settings, kafka_io) -> None:
    s = scorer_settings
    store = DynamoFeatureStore(s)
    store.put_records(
        BATCH_GROUP,
        [
            {"cc_num": A, "num_trans_last_1w": 10, "avg_amt_last_1w": 40.0, "as_of": "2020-03-02T00:00:00.000Z"},
            {"cc_num": B, "num_trans_last_1w": 4, "avg_amt_last_1w": 0.0, "as_of": "2020-03-02T00:00:00.000Z"},
        ],
    )  # C has no 1-week history
    aggs = [
        agg("a1", A, 1, 30.0, 1, 30.0),
        agg("b1", B, 2, 0.0, 1, 0.0),
        POISON,
        agg("c1", C, 3, 7.5, 1, 7.5),
        agg("a2", A, 4, 900.0, 2, 465.0),
        agg("c2", C, 5, 0.0, 2, 3.75),
    ]
    kafka_io.produce_aggs(aggs)
    event = event_of(kafka_io, s.topic_agg, len(aggs))

    # an endpoint outage fails the whole batch: no prediction, no dead letter, the batch will be retried
    down = HandlerResources(s, endpoint=HttpEndpoint("http://127.0.0.1:9", timeout=2))
    with pytest.raises(EndpointError):
        fraud_scorer.handle(event, None, down)

    assert fraud_scorer.handle(event, None, HandlerResources(s)) == {"batchItemFailures": []}
    preds = {p.tid: p for p in (decode(Prediction, m.value()) for m in kafka_io.read(s.topic_predictions, 5))}
    assert set(preds) == {"a1", "b1", "c1", "a2", "c2"}
    letters = [decode(DeadLetter, m.value()) for m in kafka_io.read(s.topic_dead_letter, 1)]
    assert len(letters) == 1 and letters[0].stage == "fraud-scorer" and letters[0].offset == poison_offset(event)
    assert letters[0].payload == POISON.decode()

    # the inputs are the shared function's (for the feature set the model was trained on), missing → null
    from fraudstream.model.registry import load_metadata

    meta = load_metadata(s.model_dir)
    good = [a for a in aggs if not isinstance(a, bytes)]
    week = {A: (10, 40.0), B: (4, 0.0), C: (None, None)}
    expected = F.compute_model_inputs(
        [a.amount for a in good],
        [a.num_trans_last_10m for a in good],
        [a.avg_amt_last_10m for a in good],
        [week[a.cc_num][0] for a in good],
        [week[a.cc_num][1] for a in good],
        [a.max_amt_last_10m for a in good],
        feature_set=meta.feature_set,
    )
    names = F.model_input_names(meta.feature_set)
    rows = [[None if math.isnan(v) else float(v) for v in row] for row in expected]
    for a, row in zip(good, rows, strict=True):
        p = preds[a.tid]
        assert [p.amount if n == "amount" else getattr(p, n) for n in names] == row
    assert preds["c1"].amt_ratio1 is None and preds["c1"].num_trans_last_1w is None
    assert preds["b1"].amt_ratio2 is None and preds["b1"].count_ratio == 0.25  # avg_1w = 0 → missing

    # verdict: the endpoint's probabilities, the model's threshold and version
    direct = HttpEndpoint(s.endpoint_url).predict(rows)
    for a, prob in zip(good, direct.probabilities, strict=True):
        p = preds[a.tid]
        assert p.fraud_probability == pytest.approx(prob, abs=1e-7)
        assert p.threshold == pytest.approx(meta.threshold) and p.is_fraud == (p.fraud_probability >= p.threshold)
        assert p.model_version == meta.version and p.feature_set == meta.feature_set


def test_threshold_override_from_env(scorer_settings, kafka_io, monkeypatch) -> None:
    s = scorer_settings
    monkeypatch.setenv("FRAUDSTREAM_THRESHOLD", "0.000001")
    kafka_io.produce_aggs([agg("x1", C, 1, 1.0, 1, 1.0)])
    fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 1), None, HandlerResources(s))
    [p] = [decode(Prediction, m.value()) for m in kafka_io.read(s.topic_predictions, 1)]
    assert p.threshold == 0.000001 and p.is_fraud
