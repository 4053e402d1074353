"""The batch-version marker: a reserved item of the batch table that nothing treats as a card."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fraudstream.batch.nightly import load_records
from fraudstream.featurestore.dynamodb_store import (
    BATCH_VERSION_KEY,
    DynamoFeatureStore,
    describe_feature_groups,
    is_reserved_key,
    to_item,
)
from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP

pytestmark = pytest.mark.integration


def week(i: int, as_of: str = "2020-03-02T00:00:00.000Z") -> dict:
    return {"cc_num": f"4200000000{i:06d}", "num_trans_last_1w": 3 + i, "avg_amt_last_1w": 10.0 + i, "as_of": as_of}


def test_mark_and_read_the_batch_version(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    assert store.read_batch_version() is None and store.batch_version_info() is None
    first = store.mark_batch_version("test seed")
    second = store.mark_batch_version("test seed")
    assert first != second  # every mark is a new version
    assert store.read_batch_version() == second
    info = store.batch_version_info()
    assert info["version"] == second and info["reason"] == "test seed" and info["updated_at"].endswith("Z")


def test_the_marker_is_not_a_card(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    assert store.put_records(BATCH_GROUP, [week(i) for i in range(3)]).written == 3
    store.mark_batch_version("test")
    assert is_reserved_key(BATCH_VERSION_KEY) and not is_reserved_key("4200000000000001")
    assert sorted(r["cc_num"] for r in store.scan_records(BATCH_GROUP)) == [week(i)["cc_num"] for i in range(3)]
    assert store.batch_get([BATCH_VERSION_KEY], groups=(BATCH_GROUP,)) == {BATCH_VERSION_KEY: {"batch": None}}
    assert store.get_record(BATCH_GROUP, BATCH_VERSION_KEY) is None
    with pytest.raises(ValueError, match="reserved"):  # no record can overwrite the marker
        to_item(BATCH_GROUP, {**week(0), "cc_num": BATCH_VERSION_KEY})
    described = {g["group"]: g for g in describe_feature_groups(isolated_tables)}
    assert described["batch"]["item_count"] == 3  # DynamoDB Local counts 4 items
    assert described["batch"]["batch_version"]["version"] == store.read_batch_version()
    assert "batch_version" not in described["stream"]

    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": isolated_tables.aws_endpoint_url,
        "FRAUDSTREAM_TABLE_AGG": isolated_tables.table_agg,
        "FRAUDSTREAM_TABLE_BATCH": isolated_tables.table_batch,
    }
    out = subprocess.run(
        [sys.executable, "-m", "fraudstream.cli.main", "featurestore", "describe", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    doc = {g["group"]: g for g in json.loads(out.stdout)}
    assert doc["batch"]["item_count"] == 3 and doc["batch"]["batch_version"]["reason"] == "test"


def test_the_nightly_load_marks_a_version_only_when_it_wrote(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    counts = load_records(store, [week(i) for i in range(5)], label="nightly 2020-03-02")
    assert counts["written"] == 5 and counts["batch_version"] == store.read_batch_version()
    assert store.batch_version_info()["reason"] == "nightly 2020-03-02"
    older = load_records(store, [week(i, "2020-03-01T00:00:00.000Z") for i in range(5)], label="nightly 2020-03-01")
    assert older["skipped"] == 5 and "batch_version" not in older  # nothing changed: no invalidation
    assert store.read_batch_version() == counts["batch_version"]


def test_the_stream_group_has_no_marker(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    store.mark_batch_version("test")
    assert list(store.scan_records(STREAM_GROUP)) == []
