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
from fraudstream.messages import CardAggregate, DeadLetter, Prediction, decode, parse_time
from fraudstream.settings import Settings

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
    # the as_of of the 1-week features used, read from the real store (the monitor's 1-week feature age)
    night = parse_time("2020-03-02T00:00:00.000Z")
    as_of = {t: p.batch_as_of for t, p in preds.items()}
    assert as_of == {"a1": night, "a2": night, "b1": night, "c1": None, "c2": None}

    # verdict: the endpoint's probabilities, the model's threshold and version
    direct = HttpEndpoint(s.endpoint_url).predict(rows)
    for a, prob in zip(good, direct.probabilities, strict=True):
        p = preds[a.tid]
        assert p.fraud_probability == pytest.approx(prob, abs=1e-7)
        assert p.threshold == pytest.approx(meta.threshold) and p.is_fraud == (p.fraud_probability >= p.threshold)
        assert p.model_version == meta.version and p.feature_set == meta.feature_set


def test_threshold_override_from_env(scorer_settings, kafka_io, monkeypatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_THRESHOLD", "0.000001")
    s = scorer_settings.model_copy(update={"threshold": Settings().threshold})  # as a process would read it
    kafka_io.produce_aggs([agg("x1", C, 1, 1.0, 1, 1.0)])
    fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 1), None, HandlerResources(s))
    [p] = [decode(Prediction, m.value()) for m in kafka_io.read(s.topic_predictions, 1)]
    assert p.threshold == 0.000001 and p.is_fraud


def test_agg_writer_transactions_keep_newer_wins_across_out_of_order_batches(isolated_settings, kafka_io) -> None:
    """250 cards (three transactions per batch): a later batch with older, equal and newer aggregates and new
    cards, then the first batch again (a replay), leaves every card at its latest event time."""
    s = isolated_settings
    res = HandlerResources(s)
    cards = [f"40000000001{i:05d}" for i in range(250)]
    first = [agg(f"a{i}", c, 30, 10.0, 1, 10.0) for i, c in enumerate(cards[:200])]
    # per card of the first batch: older (i%3==0), equal event time (1), newer (2); then 50 new cards
    minute = {0: 20, 1: 30, 2: 40}
    second = [agg(f"b{i}", c, minute[i % 3], 20.0, 2, 15.0) for i, c in enumerate(cards[:200])]
    second += [agg(f"b{i}", c, 25, 5.0, 1, 5.0) for i, c in enumerate(cards[200:], start=200)]
    kafka_io.produce_aggs(first)
    assert agg_writer.handle(event_of(kafka_io, s.topic_agg, 200), None, res) == {"batchItemFailures": []}
    kafka_io.produce_aggs(second)
    both = event_of(kafka_io, s.topic_agg, 450)  # the first batch comes again with the second
    assert agg_writer.handle(both, None, res) == {"batchItemFailures": []}

    found = DynamoFeatureStore(s).batch_get(cards, groups=(STREAM_GROUP,))
    for i, card in enumerate(cards):
        item = found[card]["stream"]
        if i >= 200:
            assert (item["tid"], item["trans_time"]) == (f"b{i}", "2020-03-02T10:25:00.000Z")
        elif i % 3 == 0:  # the older aggregate never replaces the stored later one
            assert (item["tid"], item["trans_time"]) == (f"a{i}", "2020-03-02T10:30:00.000Z")
        elif i % 3 == 1:  # equal event time: within the batch the later offset is the newest, and it overwrites
            assert item["trans_time"] == "2020-03-02T10:30:00.000Z" and item["tid"] in (f"a{i}", f"b{i}")
        else:
            assert (item["tid"], item["trans_time"]) == (f"b{i}", "2020-03-02T10:40:00.000Z")


def counted(store: DynamoFeatureStore):
    """Operation names of the store's requests, counted by a botocore event hook on its real client."""
    from collections import Counter

    calls: Counter = Counter()
    store.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return calls


def test_fraud_scorer_cache_serves_the_next_batch_and_sees_a_new_night(scorer_settings, kafka_io) -> None:
    s = scorer_settings.model_copy(update={"batch_cache_check_interval_s": 0.3})
    store = DynamoFeatureStore(s)
    store.put_records(
        BATCH_GROUP,
        [{"cc_num": A, "num_trans_last_1w": 10, "avg_amt_last_1w": 40.0, "as_of": "2020-03-02T00:00:00.000Z"}],
    )
    calls = counted(store)
    res = HandlerResources(s, store=store)
    kafka_io.produce_aggs([agg("a1", A, 1, 30.0, 1, 30.0), agg("c1", C, 2, 7.5, 1, 7.5)])
    assert fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 2), None, res) == {"batchItemFailures": []}
    assert calls["BatchGetItem"] == 1 and calls["GetItem"] >= 1  # the marker, then the watcher's own reads

    calls.clear()
    kafka_io.produce_aggs([agg("a2", A, 3, 60.0, 2, 45.0), agg("c2", C, 4, 2.5, 2, 5.0)])
    fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 4), None, res)  # the 4 records, 2 of them again
    assert calls.get("BatchGetItem", 0) == 0  # both cards (C: no history) from the cache

    # the nightly load: C now has a week, A a new one; the marker is written after the items
    from fraudstream.batch.nightly import load_records

    night = "2020-03-03T00:00:00.000Z"
    calls.clear()
    load_records(
        store,
        [
            {"cc_num": A, "num_trans_last_1w": 20, "avg_amt_last_1w": 30.0, "as_of": night},
            {"cc_num": C, "num_trans_last_1w": 5, "avg_amt_last_1w": 5.0, "as_of": night},
        ],
        label="nightly 2020-03-03",
    )
    import time

    time.sleep(0.4)  # one check interval
    kafka_io.produce_aggs([agg("a3", A, 5, 90.0, 3, 60.0), agg("c3", C, 6, 10.0, 3, 6.0)])
    fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 6), None, res)
    # the marker is read by the cache's background watcher (GetItem at its own pace); the new version
    # it saw cleared the cache, so both cards were read again: by the watcher's whole-group prefetch
    # (one Scan) or, when the batch came first, by one read
    assert calls.get("BatchGetItem", 0) <= 1 and calls.get("BatchGetItem", 0) + calls.get("Scan", 0) >= 1
    preds = {}
    for m in kafka_io.read(s.topic_predictions, 2 + 4 + 6):
        p = decode(Prediction, m.value())
        preds.setdefault(p.tid, []).append(p)
    # batches 1-2 saw the first night (C: no history → missing ratios), batch 3 (all six records) the second
    assert [p.num_trans_last_1w for p in preds["c1"]] == [None, None, 5]
    assert preds["c1"][0].amt_ratio2 is None and preds["c1"][-1].amt_ratio2 == 7.5 / 5.0
    assert [p.num_trans_last_1w for p in preds["c2"]] == [None, 5]
    assert [p.num_trans_last_1w for p in preds["a1"]] == [10, 10, 20]
    assert [p.num_trans_last_1w for p in preds["a2"]] == [10, 20]
    assert [(p.num_trans_last_1w, p.avg_amt_last_1w) for p in preds["a3"]] == [(20, 30.0)]
    assert [(p.num_trans_last_1w, p.count_ratio) for p in preds["c3"]] == [(5, 3 / 5)]


def test_fraud_scorer_store_outage_fails_the_batch(scorer_settings, kafka_io) -> None:
    from botocore.exceptions import ClientError

    s = scorer_settings
    kafka_io.produce_aggs([agg("x1", A, 1, 1.0, 1, 1.0)])
    broken = HandlerResources(s.model_copy(update={"table_batch": "no-such-table"}))
    with pytest.raises(ClientError):
        fraud_scorer.handle(event_of(kafka_io, s.topic_agg, 1), None, broken)
    assert (
        kafka_io.read(s.topic_predictions, 0, timeout=2) == []
        and kafka_io.read(s.topic_dead_letter, 0, timeout=1) == []
    )
