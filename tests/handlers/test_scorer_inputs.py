"""The scorer's model inputs are the trainer's: same function, same missing values, same edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.endpoint_client import EndpointResult, parse_response, request_body
from fraudstream.handlers.fraud_scorer import ScoringRow, build_prediction, model_inputs
from fraudstream.handlers.msk_event import KafkaRecord
from fraudstream.handlers.scoring_config import Verdict
from fraudstream.messages import CardAggregate, decode, encode

CARD = "4111111111111111"
# (amount, n10, avg10, max10, week features or None)
EDGE_CASES = [
    (25.0, 1, 25.0, 25.0, None),  # no 1-week history: every ratio missing
    (0.0, 2, 0.0, 0.0, {"num_trans_last_1w": 5, "avg_amt_last_1w": 40.0}),  # zero amounts: ratios 0
    (12.5, 3, 10.0, 12.5, {"num_trans_last_1w": 0, "avg_amt_last_1w": 0.0}),  # zero denominators: missing
    (99.99, 7, 60.0, 99.99, {"num_trans_last_1w": 14, "avg_amt_last_1w": 33.33, "as_of": "2020-03-01T00:00:00.000Z"}),
    # huge ratio; an as_of not in the wire format (the prediction writes it in the wire format)
    (5000.0, 1, 5000.0, 5000.0, {"num_trans_last_1w": 1, "avg_amt_last_1w": 0.01, "as_of": "2020-02-29 00:00:00"}),
]


CARD_WINDOWS = {
    F.NUM_TRANS_LAST_1D: 2,
    F.AVG_AMT_LAST_1D: 20.0,
    F.NUM_TRANS_LAST_30D: 40,
    F.AVG_AMT_LAST_30D: 31.5,
    F.AMT_STD_LAST_30D: 7.25,
    F.MAX_AMT_LAST_30D: 80.0,
}
# the merchant item of each case's merchant (None: unknown merchant, or no merchant on the record)
MERCHANT_ITEMS = [
    None,
    {"merchant": "m1", **{n: 0 for n in F.MERCHANT_FEATURES}},  # windows emptied: counts 0 = missing
    {"merchant": "m2", "merchant_num_trans_30d": 9, "merchant_risk_30d": 1 / 9},  # shorter windows empty
    {"merchant": "m3", **{n: 0.5 if "risk" in n else 4 for n in F.MERCHANT_FEATURES}},
    None,
]


def _rows() -> list[ScoringRow]:
    rows = []
    for i, ((amount, n10, avg10, max10, week), item) in enumerate(zip(EDGE_CASES, MERCHANT_ITEMS, strict=True)):
        windows = {**CARD_WINDOWS, F.NUM_TRANS_LAST_1W: week["num_trans_last_1w"]} if i % 2 and week else None
        agg = CardAggregate(
            tid=f"t{i}",
            cc_num=CARD,
            amount=amount,
            trans_time="2020-03-01T10:00:00.000Z",
            num_trans_last_10m=n10,
            avg_amt_last_10m=avg10,
            max_amt_last_10m=max10,
        )
        rows.append(
            ScoringRow(KafkaRecord("cc-agg", 0, i, 0, "CREATE_TIME", None, encode(agg)), agg, week, item, windows)
        )
    return rows


def _trainer_frame() -> pd.DataFrame:
    """The same transactions as the training set holds them (missing history = NaN/NULL)."""
    return pd.DataFrame(
        {
            "amount": [c[0] for c in EDGE_CASES],
            F.NUM_TRANS_LAST_10M: [c[1] for c in EDGE_CASES],
            F.AVG_AMT_LAST_10M: [c[2] for c in EDGE_CASES],
            F.MAX_AMT_LAST_10M: [c[3] for c in EDGE_CASES],
            F.NUM_TRANS_LAST_1W: [np.nan if c[4] is None else c[4]["num_trans_last_1w"] for c in EDGE_CASES],
            F.AVG_AMT_LAST_1W: [np.nan if c[4] is None else c[4]["avg_amt_last_1w"] for c in EDGE_CASES],
            **{n: [v if i % 2 and EDGE_CASES[i][4] else np.nan for i in range(5)] for n, v in CARD_WINDOWS.items()},
            **{n: [_trained(item, n) for item in MERCHANT_ITEMS] for n in F.MERCHANT_FEATURES},
        }
    )


def _trained(item: dict | None, name: str) -> float:
    """The training set's value: NULL (NaN) for an empty window, where the store may hold a count 0."""
    value = None if item is None else item.get(name)
    return np.nan if value is None or (value == 0 and name in F.NIGHTLY_COUNTS) else value


@pytest.mark.parametrize("feature_set", sorted(F.FEATURE_SETS))
def test_scorer_inputs_equal_trainer_inputs(feature_set: str) -> None:
    from fraudstream.model.dataset import feature_matrix

    scorer = model_inputs(_rows(), feature_set)
    trainer = feature_matrix(_trainer_frame(), feature_set)
    np.testing.assert_array_equal(scorer, trainer)  # NaN positions must match too
    if feature_set == "merchant-risk":  # the nightly values really reach the model
        named = pd.DataFrame(scorer, columns=F.model_input_names(feature_set))
        assert named["merchant_risk_7d"].tolist()[3] == 0.5 and named[F.NUM_TRANS_LAST_30D].tolist()[3] == 40
        assert named["merchant_risk_30d"].isna().tolist() == [True, False, False, False, True]
    if feature_set == "merchant-risk-v4":  # the card's amount profile too
        named = pd.DataFrame(scorer, columns=F.model_input_names(feature_set))
        assert named[F.AMT_ZSCORE_30D].tolist()[3] == (99.99 - 31.5) / 7.25
        assert named[F.AMT_MAX_RATIO_30D].tolist()[3] == 99.99 / 80.0


def test_edge_case_values() -> None:
    m = model_inputs(_rows(), "anchor")
    assert m[0, 0] == 25.0 and np.isnan(m[0, 1:]).all()  # no history → missing ratios
    assert list(m[1]) == [0.0, 0.0, 0.0, 2 / 5]  # zero amounts → zero ratios, not missing
    assert np.isnan(m[2, 1:]).all()  # zero 1-week denominators → missing
    assert m[3, 1] == 60.0 / 33.33 and m[3, 2] == 99.99 / 33.33 and m[3, 3] == 7 / 14


def test_missing_inputs_travel_as_null_and_land_as_null_in_predictions() -> None:
    rows = _rows()
    matrix = model_inputs(rows, "anchor")
    body = json.loads(request_body([list(r) for r in matrix]))
    assert body["instances"][0] == [25.0, None, None, None]
    names = F.model_input_names("anchor")
    line = [None if math.isnan(v) else v for v in matrix[0]]
    pred = build_prediction(
        rows[0], dict(zip(names, line, strict=True)), 0.9, Verdict(0.5, "v1", "anchor"), rows[0].agg.trans_time
    )
    wire = json.loads(encode(pred))
    assert wire["amt_ratio1"] is None and wire["count_ratio"] is None and wire["num_trans_last_1w"] is None
    assert wire["is_fraud"] is True and wire["threshold"] == 0.5
    assert decode(type(pred), encode(pred)) == pred


def test_endpoint_answer_validation() -> None:
    ok = parse_response(
        b'{"predictions": [0.1, 0.9], "model_version": "v7", "threshold": 0.8, "feature_set": "anchor"}', 2
    )
    assert ok == EndpointResult([0.1, 0.9], "v7", 0.8, "anchor")
    from fraudstream.endpoint_client import EndpointError

    for bad in (b'{"predictions": [0.1]}', b'{"predictions": [1.5, 0.1]}', b"oops", b'{"predictions": ["a", 0.1]}'):
        with pytest.raises(EndpointError):
            parse_response(bad, 2)


# ------------------------------------------------------------------ the fast paths equal the strict ones
CANONICAL = {
    "tid": "t-1",
    "cc_num": CARD,
    "amount": 12.5,
    "trans_time": "2020-03-01T10:00:00.123Z",
    "num_trans_last_10m": 3,
    "avg_amt_last_10m": 10.0,
    "max_amt_last_10m": 12.5,
}
VARIANTS = [
    {},
    {"max_amt_last_10m": None},
    {"amount": 7, "avg_amt_last_10m": 3},  # integral JSON numbers
    {"amount": 0, "avg_amt_last_10m": -2.5, "max_amt_last_10m": -1},
    {"extra": [1, 2], "merchant": "m"},  # unknown fields are ignored
    {"num_trans_last_10m": 3.0},  # an integral float count: the strict decoder accepts it
    {"num_trans_last_10m": 2.5},
    {"num_trans_last_10m": -1},
    {"num_trans_last_10m": True},
    {"amount": True},
    {"amount": -0.01},
    {"amount": 1_000_000.01},
    {"amount": "12.5"},
    {"trans_time": "2020-03-01T10:00:00Z"},  # no milliseconds
    {"trans_time": "2020-03-01 10:00:00.123"},  # Spark's rendering
    {"trans_time": "2020-03-01T11:00:00.123+01:00"},
    {"trans_time": "2020-03-01T10:00:00.123456Z"},
    {"trans_time": "2020-13-01T10:00:00.123Z"},
    {"trans_time": "0999-03-01T10:00:00.123Z"},
    {"trans_time": 1583056800},
    {"cc_num": "411111111111111"},
    {"cc_num": CARD + "\n"},
    {"cc_num": "４１１１１１１１１１１１１１１１"},  # full-width digits
    {"cc_num": 4111111111111111},
    {"tid": ""},
    {"tid": None},
]
RAW = [
    b"not json",
    b"[1, 2]",
    b"null",
    b'{"tid": "t", "cc_num": "4111111111111111", "amount": NaN}',
    b'{"tid": "t", "cc_num": "4111111111111111", "amount": Infinity}',
    json.dumps(CANONICAL).encode("utf-16"),
    b"\xff\xfe{",
    None,
]


def _strict(value) -> object:
    from fraudstream.messages import CardAggregate, DecodeError

    try:
        agg = decode(CardAggregate, value)
    except DecodeError as exc:
        return ("error", str(exc))
    from fraudstream.featurestore.aggregates import Aggregate

    return Aggregate.from_model(agg)


def _fast(value) -> object:
    from fraudstream.featurestore.aggregates import decode_aggregate
    from fraudstream.messages import DecodeError

    try:
        return decode_aggregate(value)
    except DecodeError as exc:
        return ("error", str(exc))


def _wire_cases() -> list[bytes | None]:
    cases: list[bytes | None] = []
    for variant in VARIANTS:
        doc = {**CANONICAL, **variant}
        cases.append(json.dumps(doc).encode())
        for missing in ("tid", "max_amt_last_10m", "trans_time"):
            cases.append(json.dumps({k: v for k, v in doc.items() if k != missing}).encode())
    return cases + RAW


@pytest.mark.parametrize("value", _wire_cases())
def test_fast_aggregate_decoder_accepts_what_the_strict_one_does_with_the_same_values(value) -> None:
    assert _fast(value) == _strict(value)


def test_fast_aggregate_decoder_takes_flinks_records_itself() -> None:
    from fraudstream.featurestore.aggregates import fast_aggregate
    from fraudstream.messages import CardAggregate

    agg = CardAggregate.model_validate(CANONICAL)
    fast = fast_aggregate(encode(agg))
    assert fast is not None and fast.trans_time == "2020-03-01T10:00:00.123Z" and fast == _strict(encode(agg))
    assert fast.store_record()["trans_time"] == "2020-03-01T10:00:00.123Z"
    assert fast_aggregate(json.dumps({**CANONICAL, "num_trans_last_10m": 3.0})) is None  # left to the strict one


def _scored(feature_set: str, week_override=None, threshold: float = 0.5):
    from fraudstream.handlers.fraud_scorer import encode_predictions

    rows = _rows()
    if week_override is not None:
        rows = [ScoringRow(r.record, r.agg, week_override, r.merchant_features, r.card_windows) for r in rows]
    matrix = model_inputs(rows, feature_set)
    inputs = [[None if math.isnan(v) else v for v in line] for line in matrix.tolist()]
    probabilities = [0.0, 0.25, 0.5, 0.75, 1.0]
    verdict = Verdict(threshold, "v1", feature_set)
    from datetime import UTC, datetime

    scored_at = datetime(2020, 3, 1, 10, 0, 1, 234567, tzinfo=UTC)
    rejects: list = []
    out = encode_predictions(rows, F.model_input_names(feature_set), inputs, probabilities, verdict, scored_at, rejects)
    names = F.model_input_names(feature_set)
    reference = []
    for row, line, p in zip(rows, inputs, probabilities, strict=True):
        try:
            reference.append(build_prediction(row, dict(zip(names, line, strict=True)), p, verdict, scored_at))
        except ValueError as exc:
            reference.append(exc)
    return rows, out, reference, rejects


@pytest.mark.parametrize("feature_set", sorted(F.FEATURE_SETS))
def test_prediction_wire_records_are_the_prediction_models(feature_set: str) -> None:
    from fraudstream.handlers.fraud_scorer import PREDICTION_FIELDS
    from fraudstream.messages import Prediction
    from fraudstream.schemas import json_schemas

    rows, out, reference, rejects = _scored(feature_set)
    assert rejects == [] and len(out) == len(rows)
    schema = json_schemas()["prediction"]
    import jsonschema

    for (key, value), expected in zip(out, reference, strict=True):
        doc = json.loads(value)
        assert tuple(doc) == PREDICTION_FIELDS  # every field, in the model's order, nulls included
        assert doc == json.loads(encode(expected))
        assert decode(Prediction, value) == expected and key == expected.cc_num.encode()
        jsonschema.validate(doc, schema)


def test_batch_as_of_is_the_stores_as_of_in_wire_form() -> None:
    rows, out, reference, rejects = _scored("anchor")
    written = [json.loads(v)["batch_as_of"] for _, v in out]
    assert written == [None, None, None, "2020-03-01T00:00:00.000Z", "2020-02-29T00:00:00.000Z"]
    # not a time: the annotation is left out, the verdict is still written (the same by both paths)
    week = {"num_trans_last_1w": 4, "avg_amt_last_1w": 5.0, "as_of": "yesterday"}
    rows, out, reference, rejects = _scored("anchor", week_override=week)
    assert rejects == [] and [json.loads(v) for _, v in out] == [json.loads(encode(p)) for p in reference]
    assert {json.loads(v)["batch_as_of"] for _, v in out} == {None}


def test_values_the_fast_path_cannot_vouch_for_go_through_the_model() -> None:
    # a store item with a negative count: the Prediction model refuses it, the row is rejected (as before)
    rows, out, reference, rejects = _scored("anchor", week_override={"num_trans_last_1w": -3, "avg_amt_last_1w": 5.0})
    assert out == [] and len(rejects) == len(rows) and all("num_trans_last_1w" in reason for _, reason in rejects)
    # an integral float count from a store is accepted by the model: same record as the fast path would write
    rows, out, reference, rejects = _scored("anchor", week_override={"num_trans_last_1w": 4.0, "avg_amt_last_1w": 5})
    assert rejects == [] and [json.loads(v) for _, v in out] == [json.loads(encode(p)) for p in reference]
    # a threshold outside [0, 1] (a misbehaving endpoint) makes every row fail validation
    rows, out, reference, rejects = _scored("anchor", threshold=1.5)
    assert out == [] and len(rejects) == len(rows) and all("threshold" in reason for _, reason in rejects)


def test_a_number_beyond_float_range_is_a_decode_error() -> None:
    """The strict decoder lets ``OverflowError`` escape, which would fail the scorer's batch on every retry."""
    from fraudstream.featurestore.aggregates import decode_aggregate
    from fraudstream.messages import DecodeError

    with pytest.raises(DecodeError, match="out of range"):
        decode_aggregate(json.dumps({**CANONICAL, "avg_amt_last_10m": 10**400}))
