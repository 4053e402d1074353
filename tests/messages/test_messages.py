"""The record codec: round trips, time format, and one precise error per kind of bad record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fraudstream import features
from fraudstream.messages import (
    MAX_AMOUNT,
    RECORD_FIELD,
    CardAggregate,
    DeadLetter,
    DecodeError,
    Label,
    Prediction,
    Transaction,
    decode,
    encode,
    format_time,
    parse_time,
    payload_text,
)

GOOD = {"tid": "t1", "cc_num": "4111111111111111", "amount": 12.5, "trans_time": "2020-01-01T00:00:05.123Z"}


def with_field(**changes: object) -> str:
    record = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return json.dumps(record, allow_nan=True)


def test_format_time_is_utc_milliseconds_with_z() -> None:
    dt = datetime(2020, 1, 1, 2, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(dt) == "2020-01-01T00:00:05.123Z"
    assert format_time(datetime(2020, 1, 1)) == "2020-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01T00:00:05.123Z",
        "2020-01-01 00:00:05.123",
        "2020-01-01T01:00:05.123+01:00",
        "2020-01-01T00:00:05.123000Z",
    ],
)
def test_parse_time_accepts_iso_renderings(text: str) -> None:
    assert parse_time(text) == datetime(2020, 1, 1, 0, 0, 5, 123000, tzinfo=UTC)


def test_transaction_round_trip_is_byte_stable() -> None:
    raw = json.dumps(GOOD, separators=(",", ":")).encode()
    tx = decode(Transaction, raw)
    assert tx.trans_time == datetime(2020, 1, 1, 0, 0, 5, 123000, tzinfo=UTC)
    assert encode(tx) == raw  # optional extras left out when None
    assert decode(Transaction, encode(tx)) == tx


def test_decode_accepts_str_bytes_and_dict() -> None:
    assert (
        decode(Transaction, json.dumps(GOOD))
        == decode(Transaction, GOOD)
        == decode(Transaction, json.dumps(GOOD).encode())
    )


def test_unknown_fields_are_ignored_and_optional_fields_kept() -> None:
    tx = decode(Transaction, with_field(merchant="m1", zip_code="10001", extra=1))
    assert (tx.merchant, tx.zip_code) == ("m1", "10001")
    assert b'"merchant":"m1"' in encode(tx)


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (with_field(tid=...), "tid", "missing"),
        (with_field(cc_num=...), "cc_num", "missing"),
        (with_field(amount=...), "amount", "missing"),
        (with_field(trans_time=...), "trans_time", "missing"),
        (with_field(amount="12.5"), "amount", "wrong type: expected a number, got str"),
        (with_field(amount=True), "amount", "wrong type: expected a number, got bool"),
        (with_field(amount=None), "amount", "wrong type: expected a number, got null"),
        (with_field(tid=7), "tid", "wrong type: expected a string, got int"),
        (with_field(amount=float("nan")), "amount", "not a finite number (nan)"),
        (with_field(amount=float("inf")), "amount", "not a finite number (inf)"),
        (with_field(amount=float("-inf")), "amount", "not a finite number (-inf)"),
        (with_field(amount=-0.01), "amount", "negative amount -0.01"),
        (with_field(amount=MAX_AMOUNT * 2), "amount", "absurd amount 2000000.0 (above 1000000)"),
        (with_field(cc_num="411111111111111"), "cc_num", "card number must be 16 digits, got '411111111111111'"),
        (with_field(cc_num="41111111111111112"), "cc_num", "card number must be 16 digits"),
        (with_field(cc_num="4111-1111-1111-11"), "cc_num", "card number must be 16 digits"),
        (with_field(cc_num=4111111111111111), "cc_num", "wrong type: expected a 16-digit string, got int"),
        (with_field(trans_time="yesterday"), "trans_time", "unparseable time 'yesterday'"),
        (with_field(trans_time="2020-13-01T00:00:00Z"), "trans_time", "unparseable time"),
        (with_field(trans_time=1577836800000), "trans_time", "wrong type: expected an ISO-8601 time string, got int"),
        ("[1, 2]", RECORD_FIELD, "expected a JSON object, got list"),
        ("{not json", RECORD_FIELD, "not valid JSON"),
        (b"\xff\xfe", RECORD_FIELD, "not valid JSON"),
    ],
)
def test_bad_transaction_is_rejected_with_field_and_reason(raw: str | bytes, field: str, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(Transaction, raw)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_nan_literal_in_raw_json_is_rejected_by_field() -> None:
    raw = '{"tid":"t","cc_num":"4111111111111111","amount":NaN,"trans_time":"2020-01-01T00:00:00.000Z"}'
    with pytest.raises(DecodeError, match=r"amount: not a finite number"):
        decode(Transaction, raw)


def test_huge_number_literal_overflows_to_not_finite() -> None:
    with pytest.raises(DecodeError, match=r"amount: not a finite number \(inf\)"):
        decode(Transaction, with_field(amount=0).replace('"amount": 0', '"amount": 1e400'))


def make_prediction(**changes: object) -> Prediction:
    fields: dict[str, object] = {
        "tid": "t1",
        "cc_num": "4111111111111111",
        "amount": 90.55,
        "trans_time": "2020-01-01T00:00:05.123Z",
        "amt_ratio1": 1.5,
        "amt_ratio2": 2.0,
        "count_ratio": 0.25,
        "num_trans_last_10m": 3,
        "avg_amt_last_10m": 60.0,
        "max_amt_last_10m": 90.55,
        "num_trans_last_1w": 12,
        "avg_amt_last_1w": 40.0,
        "fraud_probability": 0.97,
        "is_fraud": True,
        "threshold": 0.5,
        "model_version": "20200515-000000",
        "feature_set": "anchor",
        "scored_at": datetime(2026, 1, 1, 12, 0, 0, 987654, tzinfo=UTC),
    }
    fields.update(changes)
    return Prediction(**fields)


def test_prediction_round_trip_and_nullable_week_features() -> None:
    pred = make_prediction(
        amt_ratio1=None, amt_ratio2=None, count_ratio=None, num_trans_last_1w=None, avg_amt_last_1w=None
    )
    wire = json.loads(encode(pred))
    assert wire["num_trans_last_1w"] is None and wire["amt_ratio1"] is None
    assert wire["scored_at"] == "2026-01-01T12:00:00.987Z"
    assert decode(Prediction, encode(pred)) == pred


def test_batch_as_of_is_optional_so_older_predictions_still_decode() -> None:
    pred = make_prediction(batch_as_of="2026-01-01 00:00:00")
    wire = json.loads(encode(pred))
    assert wire["batch_as_of"] == "2026-01-01T00:00:00.000Z"
    assert decode(Prediction, encode(pred)) == pred
    older = {k: v for k, v in wire.items() if k != "batch_as_of"}  # written before the field existed
    assert decode(Prediction, json.dumps(older)).batch_as_of is None
    with pytest.raises(DecodeError) as info:
        decode(Prediction, {**wire, "batch_as_of": "last night"})
    assert info.value.field == "batch_as_of"


def test_prediction_carries_every_feature_name() -> None:
    fields = set(Prediction.model_fields)
    for name in (*features.EXTENDED_INPUTS, *features.STREAM_FEATURES, *features.BATCH_FEATURES):
        assert name in fields


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"fraud_probability": 1.5}, "fraud_probability", "outside [0, 1]"),
        ({"num_trans_last_10m": -1}, "num_trans_last_10m", "negative count"),
        ({"num_trans_last_10m": 2.5}, "num_trans_last_10m", "expected an integer"),
        ({"amt_ratio1": float("nan")}, "amt_ratio1", "not a finite number"),
        ({"is_fraud": "yes"}, "is_fraud", "expected a boolean"),
    ],
)
def test_bad_prediction_fields_are_named(changes: dict[str, object], field: str, reason: str) -> None:
    wire = json.loads(encode(make_prediction()))
    wire.update(changes)
    with pytest.raises(DecodeError) as info:
        decode(Prediction, json.dumps(wire, allow_nan=True))
    assert info.value.field == field
    assert reason in info.value.reason


def test_card_aggregate_accepts_flink_style_time_and_integral_float_count() -> None:
    agg = decode(
        CardAggregate,
        {**GOOD, "trans_time": "2020-01-01 00:00:05.123", "num_trans_last_10m": 3.0, "avg_amt_last_10m": 10.0},
    )
    assert agg.num_trans_last_10m == 3 and agg.max_amt_last_10m is None
    assert agg.trans_time == datetime(2020, 1, 1, 0, 0, 5, 123000, tzinfo=UTC)


def test_label_accepts_bool_or_zero_one() -> None:
    base = {"tid": "t1", "labelled_at": "2020-01-01T00:00:00.000Z"}
    assert decode(Label, {**base, "is_fraud": 1}).is_fraud is True
    assert decode(Label, {**base, "is_fraud": False}).is_fraud is False
    with pytest.raises(DecodeError, match="is_fraud"):
        decode(Label, {**base, "is_fraud": 2})


def test_dead_letter_keeps_undecodable_payload_as_text() -> None:
    letter = DeadLetter(
        stage="agg-writer",
        source_topic="cc-agg",
        partition=2,
        offset=41,
        error="amount: negative amount -1.0",
        payload=payload_text(b'{"amount": -1}\xff'),
        failed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert "\\xff" in letter.payload
    assert decode(DeadLetter, encode(letter)) == letter
