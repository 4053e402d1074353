"""The DynamoDB feature store against DynamoDB Local: newer-wins, batch reads, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore, describe_feature_groups
from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP

pytestmark = pytest.mark.integration
CARD = "4000000000000001"


def _agg(tid: str, when: str, count: int) -> dict:
    return {
        "cc_num": CARD,
        "tid": tid,
        "trans_time": when,
        "num_trans_last_10m": count,
        "avg_amt_last_10m": 10.0 * count,
    }


def test_newer_wins_and_equal_time_overwrites(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    assert store.put_record(STREAM_GROUP, _agg("new", "2020-01-01T00:10:00.000Z", 3))
    # replaying an older aggregate after the newer one leaves the newer
    assert store.put_record(STREAM_GROUP, _agg("old", "2020-01-01T00:09:59.999Z", 1)) is False
    stored = store.get_record(STREAM_GROUP, CARD)
    assert stored["tid"] == "new" and stored["num_trans_last_10m"] == 3
    # the same event time overwrites (idempotent replays; a tie resolves to the last writer)
    assert store.put_record(STREAM_GROUP, _agg("tie", "2020-01-01T00:10:00.000Z", 4))
    assert store.get_record(STREAM_GROUP, CARD)["tid"] == "tie"
    assert store.put_record(STREAM_GROUP, _agg("newer", "2020-01-01T00:10:00.001Z", 5))
    assert store.get_record(STREAM_GROUP, CARD)["num_trans_last_10m"] == 5
    assert store.get_record(STREAM_GROUP, "4999999999999999") is None


def test_put_records_counts_and_batch_get_across_requests(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    cards = [f"4000000000{i:06d}" for i in range(130)]  # 130 cards x 2 groups = 3 BatchGetItem requests
    nightly = [
        {"cc_num": c, "num_trans_last_1w": i, "avg_amt_last_1w": 1.5 * i, "as_of": "2020-03-02T00:00:00.000Z"}
        for i, c in enumerate(cards)
    ]
    summary = store.put_records(BATCH_GROUP, nightly + [{"num_trans_last_1w": 1, "as_of": "2020-03-02T00:00:00.000Z"}])
    assert (summary.written, summary.skipped, summary.failed) == (130, 0, 1)
    older = [dict(r, as_of="2020-03-01T00:00:00.000Z", num_trans_last_1w=-1) for r in nightly[:10]]
    assert store.put_records(BATCH_GROUP, older).skipped == 10  # an older night never overwrites
    store.put_record(STREAM_GROUP, {**_agg("t", "2020-03-02T01:00:00.000Z", 2), "cc_num": cards[7]})

    found = store.batch_get(cards + ["4999999999999999"])
    assert len(found) == 131
    assert found[cards[7]]["batch"] == {
        "cc_num": cards[7],
        "num_trans_last_1w": 7,
        "avg_amt_last_1w": 10.5,
        "as_of": "2020-03-02T00:00:00.000Z",
    }
    assert found[cards[7]]["stream"]["tid"] == "t" and found[cards[8]]["stream"] is None
    assert found["4999999999999999"] == {"stream": None, "batch": None}
    only_batch = store.batch_get(cards[:3], groups=(BATCH_GROUP,))
    assert set(only_batch[cards[0]]) == {"batch"}

    described = {g["group"]: g for g in describe_feature_groups(isolated_tables)}
    assert described["batch"]["status"] == "ACTIVE" and described["batch"]["event_time_field"] == "as_of"


def test_cli_get_prints_both_groups(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    store.put_record(STREAM_GROUP, _agg("cli", "2020-01-01T00:00:00.000Z", 1))
    s = isolated_tables
    env = {
        "AWS_ENDPOINT_URL": s.aws_endpoint_url,
        "FRAUDSTREAM_TABLE_AGG": s.table_agg,
        "FRAUDSTREAM_TABLE_BATCH": s.table_batch,
    }
    import os

    out = subprocess.run(
        [sys.executable, "-m", "fraudstream.cli.main", "featurestore", "get", CARD],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["stream"]["tid"] == "cli" and doc["batch"] is None
    bad = subprocess.run(
        [sys.executable, "-m", "fraudstream.cli.main", "featurestore", "get", "123"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "16 digits" in bad.stderr
