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


def test_each_group_is_declared_once_and_the_rest_derives_from_it() -> None:
    """Entity, typed fields, windows, source topic and event time in one declaration per group; the
    stream group's fields come from ``features.STREAM_AGGREGATES``, the Flink sink's key and columns
    from the group, and a record that disagrees with it fails at import."""
    from datetime import timedelta

    from fraudstream import features as F
    from fraudstream.featurestore.groups import FEATURE_GROUPS, MERCHANT_GROUP, check_record_types
    from fraudstream.settings import Settings
    from fraudstream.streaming import sql
    from fraudstream.streaming.config import JobConfig

    settings = Settings()
    for group in FEATURE_GROUPS:
        assert group.table_name(settings) and group.source_topic(settings) in settings.all_topics
        assert all(f.dtype in (int, float, str) for f in group.features)
        assert group.event_time_field in {f.name for f in group.features}
    assert STREAM_GROUP.windows == (F.STREAM_WINDOW,) and BATCH_GROUP.windows == (F.BATCH_WINDOW,)
    assert MERCHANT_GROUP.windows == tuple(timedelta(days=d) for d in F.MERCHANT_WINDOWS)
    assert [f.name for f in STREAM_GROUP.features][: len(F.STREAM_AGGREGATES)] == list(F.STREAM_FEATURES)
    ddl = sql.agg_sink_ddl(JobConfig(bootstrap_servers="b:1"))
    for field in STREAM_GROUP.features:
        if field.name in F.STREAM_FEATURES:
            assert f"{field.name} {field.sql_type}" in ddl
    assert f"'key.fields' = '{STREAM_GROUP.record_identifier}'" in ddl

    check_record_types(
        "ok",
        {
            "cc_num": str,
            "tid": str,
            "num_trans_last_10m": int,
            **dict.fromkeys(("avg_amt_last_10m", "max_amt_last_10m"), float | None),
        },
        STREAM_GROUP,
    )
    with pytest.raises(TypeError, match="num_trans_last_10m must be int"):
        check_record_types("bad", {"cc_num": str, "tid": str, "num_trans_last_10m": float}, STREAM_GROUP)
    with pytest.raises(TypeError, match="merchant"):
        check_record_types("keyless", {}, MERCHANT_GROUP)
