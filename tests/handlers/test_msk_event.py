"""The MSK event shape (as documented for AWS Lambda) and the partial-failure rules."""

from __future__ import annotations

import base64
import copy

import pytest

from fraudstream.handlers.msk_event import (
    EventFormatError,
    KafkaRecord,
    batch_response,
    build_event,
    first_failed_offsets,
    parse_event,
)

# The example event of the AWS Lambda developer guide ("Using Lambda with Amazon MSK").
DOCUMENTED_EVENT = {
    "eventSource": "aws:kafka",
    "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/vpc-2priv-2pub/"
    "751d2973-a626-431c-9d4e-d7975eb44dd7-2",
    "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,"
    "b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
    "records": {
        "mytopic-0": [
            {
                "topic": "mytopic",
                "partition": 0,
                "offset": 15,
                "timestamp": 1545084650987,
                "timestampType": "CREATE_TIME",
                "key": "cmVjb3JkS2V5",
                "value": "eyJrZXkiOiJ2YWx1ZSJ9",
                "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}],
            }
        ]
    },
}


def test_documented_event_parses_and_rebuilds_identically() -> None:
    records = parse_event(DOCUMENTED_EVENT)
    assert records == [
        KafkaRecord(
            "mytopic",
            0,
            15,
            1545084650987,
            "CREATE_TIME",
            b"recordKey",
            b'{"key":"value"}',
            (("headerKey", b"headerValue"),),
        )
    ]
    rebuilt = build_event(records, DOCUMENTED_EVENT["eventSourceArn"], DOCUMENTED_EVENT["bootstrapServers"])
    assert rebuilt == DOCUMENTED_EVENT


def test_records_grouped_per_partition_and_ordered_by_offset() -> None:
    recs = [KafkaRecord("cc-agg", p, o, 1, "CREATE_TIME", b"k", b"v") for p, o in [(3, 9), (1, 4), (3, 7), (1, 2)]]
    event = build_event(recs, "arn", "h:1")
    assert list(event["records"]) == ["cc-agg-3", "cc-agg-1"]
    assert [r["offset"] for r in event["records"]["cc-agg-3"]] == [7, 9]
    assert [r["offset"] for r in event["records"]["cc-agg-1"]] == [2, 4]
    assert {r.offset for r in parse_event(event)} == {2, 4, 7, 9}


def test_null_key_is_omitted_and_bad_base64_is_kept_for_dead_lettering() -> None:
    event = build_event([KafkaRecord("t", 0, 1, 5, "CREATE_TIME", None, b"x")], "arn", "h:1")
    assert "key" not in event["records"]["t-0"][0]
    broken = copy.deepcopy(event)
    broken["records"]["t-0"][0]["value"] = "not base64!!"
    assert parse_event(broken)[0].value == b"not base64!!"


@pytest.mark.parametrize("event", [{}, {"eventSource": "aws:sqs"}, {"eventSource": "aws:kafka"}, []])
def test_non_msk_events_are_rejected(event) -> None:
    with pytest.raises(EventFormatError):
        parse_event(event)


def _recs(partition: int, offsets: list[int]) -> list[KafkaRecord]:
    return [KafkaRecord("cc-agg", partition, o, 0, "CREATE_TIME", None, b"") for o in offsets]


def test_first_failed_offset_per_partition() -> None:
    records = _recs(0, [10, 11, 12]) + _recs(1, [5, 6])
    response = batch_response([records[2], records[1], records[4]])
    assert response["batchItemFailures"][0] == {"itemIdentifier": {"topic-partition": "cc-agg-0", "offset": 12}}
    assert first_failed_offsets(response, records) == {("cc-agg", 0): 11, ("cc-agg", 1): 6}
    assert first_failed_offsets({"batchItemFailures": []}, records) == {}
    assert first_failed_offsets(None, records) == {}


def test_topic_names_with_dashes_are_keyed_exactly() -> None:
    records = [KafkaRecord("my-cc-agg-2", 1, 7, 0, "CREATE_TIME", None, b"")]
    assert first_failed_offsets(batch_response(records), records) == {("my-cc-agg-2", 1): 7}


def test_bare_offset_identifier_and_invalid_identifiers() -> None:
    records = _recs(2, [40, 41])
    assert first_failed_offsets({"batchItemFailures": [{"itemIdentifier": "41"}]}, records) == {("cc-agg", 2): 41}
    for bad in ({"itemIdentifier": ""}, {"itemIdentifier": None}, {"itemIdentifier": "99"}, {"wrong": 1}):
        with pytest.raises(ValueError):
            first_failed_offsets({"batchItemFailures": [bad]}, records)


def test_base64_roundtrip_of_binary_values() -> None:
    value = bytes(range(256))
    event = build_event([KafkaRecord("t", 0, 0, 0, "LOG_APPEND_TIME", b"\x00", value)], "arn", "h:1")
    assert base64.b64decode(event["records"]["t-0"][0]["value"]) == value
    assert parse_event(event)[0].value == value
