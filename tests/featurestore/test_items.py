"""Item conversion of the feature groups (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraudstream.featurestore.dynamodb_store import from_item, resolve_group, to_item
from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP


def test_roundtrip_keeps_types_and_drops_missing() -> None:
    record = {
        "cc_num": "4111111111111111",
        "tid": "t1",
        "trans_time": datetime(2020, 1, 1, 0, 0, 5, 123000, tzinfo=UTC),
        "num_trans_last_10m": 3,
        "avg_amt_last_10m": 0.1 + 0.2,
        "max_amt_last_10m": None,
        "unrelated": "x",
    }
    item = to_item(STREAM_GROUP, record)
    assert item["trans_time"] == {"S": "2020-01-01T00:00:05.123Z"}
    assert "max_amt_last_10m" not in item and "unrelated" not in item
    back = from_item(STREAM_GROUP, item)
    assert back["avg_amt_last_10m"] == 0.1 + 0.2  # repr round-trips doubles exactly
    assert back["num_trans_last_10m"] == 3 and isinstance(back["num_trans_last_10m"], int)


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError, match="cc_num"):
        to_item(BATCH_GROUP, {"num_trans_last_1w": 1, "as_of": "2020-01-02T00:00:00.000Z"})
    with pytest.raises(ValueError, match="event time"):
        to_item(BATCH_GROUP, {"cc_num": "4111111111111111", "num_trans_last_1w": 1})
    with pytest.raises(ValueError, match="infinite"):
        to_item(BATCH_GROUP, {"cc_num": "4111111111111111", "avg_amt_last_1w": float("inf"), "as_of": "2020-01-02"})


def test_groups_resolve_by_key_and_table_name() -> None:
    assert resolve_group("stream") is STREAM_GROUP
    assert resolve_group("cc-agg-batch-fg") is BATCH_GROUP
    with pytest.raises(KeyError):
        resolve_group("nope")
