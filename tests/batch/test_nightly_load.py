"""The nightly load and backfill against real DynamoDB Local (isolated tables per test)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.aws_clients import dynamodb_client
from fraudstream.batch.nightly import run_backfill, run_nightly
from fraudstream.featurestore.dynamodb_store import from_item, is_reserved_key
from fraudstream.featurestore.groups import BATCH_GROUP

from .helpers import random_transactions

pytestmark = pytest.mark.integration

AS_OF = date(2020, 1, 15)


def scan_batch_table(settings) -> dict[str, dict]:
    """Every card item of the batch table (the batch-version marker is not a card)."""
    client = dynamodb_client(settings)
    items: dict[str, dict] = {}
    for page in client.get_paginator("scan").paginate(TableName=BATCH_GROUP.table_name(settings), ConsistentRead=True):
        for item in page["Items"]:
            if is_reserved_key(item["cc_num"]["S"]):
                continue
            record = from_item(BATCH_GROUP, item)
            items[record["cc_num"]] = record
    return items


IDLE_CARDS = 5


@pytest.fixture(scope="module")
def tx_path(tmp_path_factory):
    """Random traffic of 40 cards; the first IDLE_CARDS cards go quiet after 2020-01-05."""
    path = Path(random_transactions(tmp_path_factory.mktemp("nightly") / "tx.parquet", cards=40, rows=3000))
    raw = pd.read_parquet(path)
    idle = sorted(raw.cc_num.unique())[:IDLE_CARDS]
    quiet = raw.cc_num.isin(idle) & (raw.trans_time >= pd.Timestamp("2020-01-05", tz="UTC"))
    raw[~quiet].to_parquet(path, index=False)
    return str(path)


def expected_week(path: str, as_of: date) -> dict[str, tuple[int, float]]:
    """Brute force in pandas: per card, count and mean over [as_of - 7 d, as_of)."""
    raw = pd.read_parquet(path)
    end = pd.Timestamp(as_of, tz="UTC")
    week = raw[(raw.trans_time >= end - timedelta(days=7)) & (raw.trans_time < end)]
    grouped = week.groupby("cc_num")["amount"].agg(["count", "sum"])
    return {card: (int(r["count"]), r["sum"] / r["count"]) for card, r in grouped.iterrows()}


def test_one_item_per_active_card_and_rerun_changes_nothing(spark, tx_path, isolated_tables) -> None:
    expected = expected_week(tx_path, AS_OF)
    assert len(expected) == 40 - IDLE_CARDS  # idle cards must get no item

    first = run_nightly(spark, tx_path, AS_OF, isolated_tables)
    stored = scan_batch_table(isolated_tables)
    assert set(stored) == set(expected)
    assert first["written"] == first["cards"] == len(expected) and first["failed"] == 0
    for card, (count, mean) in expected.items():
        item = stored[card]
        assert item[F.NUM_TRANS_LAST_1W] == count
        assert item[F.AVG_AMT_LAST_1W] == pytest.approx(mean, rel=1e-12)
        assert item["as_of"] == "2020-01-15T00:00:00.000Z"

    again = run_nightly(spark, tx_path, AS_OF, isolated_tables)
    assert scan_batch_table(isolated_tables) == stored
    assert (again["written"], again["skipped"], again["failed"]) == (len(expected), 0, 0)

    older = run_nightly(spark, tx_path, AS_OF - timedelta(days=1), isolated_tables)
    assert scan_batch_table(isolated_tables) == stored  # newer wins: an older run moves nothing back
    assert older["skipped"] == len(set(expected) & set(expected_week(tx_path, AS_OF - timedelta(days=1))))


def test_backfill_leaves_the_store_as_the_sequential_runs_would(spark, tx_path, isolated_tables) -> None:
    first_day, last_day = date(2020, 1, 10), date(2020, 1, 27)  # the data ends on 2020-01-24
    final: dict[str, tuple[int, float | None, str]] = {}
    day = first_day
    previous = set(expected_week(tx_path, first_day - timedelta(days=1)))
    while day <= last_day:  # what running `batch nightly` for each day in order leaves behind
        week = expected_week(tx_path, day)
        for card, (count, mean) in week.items():
            final[card] = (count, mean, f"{day.isoformat()}T00:00:00.000Z")
        for card in previous - set(week):  # the card's week just emptied: an explicit empty item
            final[card] = (0, None, f"{day.isoformat()}T00:00:00.000Z")
        previous = set(week)
        day += timedelta(days=1)

    summary = run_backfill(spark, tx_path, first_day, last_day, isolated_tables)
    stored = scan_batch_table(isolated_tables)
    assert set(stored) == set(final)
    for card, (count, mean, as_of) in final.items():
        item = stored[card]
        assert (item[F.NUM_TRANS_LAST_1W], item["as_of"]) == (count, as_of)
        if mean is None:
            assert F.AVG_AMT_LAST_1W not in item
        else:
            assert item[F.AVG_AMT_LAST_1W] == pytest.approx(mean, rel=1e-12)
    assert summary["cards_expired"] == sum(1 for count, _, _ in final.values() if count == 0) == IDLE_CARDS
    assert summary["days"] == 18 and summary["failed"] == 0 and summary["written"] == len(final)
    assert summary["cards_per_day"]["2020-01-15"] == len(expected_week(tx_path, AS_OF))
    # idle cards end with the empty item of the day their week emptied (before 2020-01-13)
    ends = sorted({item["as_of"] for item in stored.values()})
    assert ends[-1] == "2020-01-27T00:00:00.000Z" and ends[0] < "2020-01-13" and len(ends) > 1


def test_a_card_whose_week_just_emptied_gets_an_empty_item(spark, tx_path, isolated_tables) -> None:
    """The store must not keep serving last week's values once the week holds no transaction."""
    as_of = date(2020, 1, 12)
    emptied = set(expected_week(tx_path, as_of - timedelta(days=1))) - set(expected_week(tx_path, as_of))
    assert emptied, "the fixture's idle cards were last active on 2020-01-04"

    summary = run_nightly(spark, tx_path, as_of, isolated_tables)
    stored = scan_batch_table(isolated_tables)
    assert summary["cards_expired"] == len(emptied)
    for card in emptied:
        assert stored[card][F.NUM_TRANS_LAST_1W] == 0 and F.AVG_AMT_LAST_1W not in stored[card]
        row = F.model_input_row(50.0, 1, 50.0, stored[card][F.NUM_TRANS_LAST_1W], None)
        assert row[1:] == [None, None, None]  # the scorer sees no history, as the training set does
