"""The issue-15 tables against DynamoDB Local: created on demand, read together with the card groups."""

from __future__ import annotations

import pytest

from fraudstream import features as F
from fraudstream.batch.nightly import ensure_group_tables
from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.groups import BATCH_GROUP, CARD_WINDOWS_GROUP, MERCHANT_GROUP

pytestmark = pytest.mark.integration


def test_a_missing_nightly_table_is_created_by_the_load(isolated_tables) -> None:
    """A stack started before the merchant group existed: the nightly load makes its table."""
    store = DynamoFeatureStore(isolated_tables)
    store.client.delete_table(TableName=MERCHANT_GROUP.table_name(isolated_tables))
    ensure_group_tables(store, [MERCHANT_GROUP, CARD_WINDOWS_GROUP])
    ensure_group_tables(store, [MERCHANT_GROUP])  # idempotent
    record = {
        "merchant": "m-1",
        F.MERCHANT_WINDOWS[7][0]: 3,
        F.MERCHANT_WINDOWS[7][1]: 1 / 3,
        "as_of": "2020-03-01T00:00:00.000Z",
    }
    assert store.put_record(MERCHANT_GROUP, record)
    assert store.get_record(MERCHANT_GROUP, "m-1")[F.MERCHANT_WINDOWS[7][1]] == 1 / 3


def test_groups_with_their_own_keys_are_read_in_one_go(isolated_tables) -> None:
    """150 cards in two card-keyed tables and 40 merchants: 340 keys, 100 per BatchGetItem, all answered."""
    store = DynamoFeatureStore(isolated_tables)
    cards = [f"4{i:015d}" for i in range(150)]
    as_of = "2020-03-01T00:00:00.000Z"
    store.put_records(BATCH_GROUP, [{"cc_num": c, F.NUM_TRANS_LAST_1W: 2, "as_of": as_of} for c in cards[::2]])
    store.put_records(
        MERCHANT_GROUP, [{"merchant": f"m-{i}", F.MERCHANT_WINDOWS[1][0]: i, "as_of": as_of} for i in range(1, 40, 3)]
    )
    calls: list[int] = []
    store.client.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: calls.append(sum(len(t["Keys"]) for t in params["RequestItems"].values())),
    )
    merchants = [f"m-{i}" for i in range(40)]
    found = store.batch_get_keys(
        {BATCH_GROUP: cards, CARD_WINDOWS_GROUP: cards, MERCHANT_GROUP: [*merchants, "_meta#version"]}
    )
    assert sorted(calls) == [40, 100, 100, 100]
    assert [c for c, item in found[BATCH_GROUP.key].items() if item] == cards[::2]
    assert not any(found[CARD_WINDOWS_GROUP.key].values())  # no items: None, not an error
    assert {m for m, item in found[MERCHANT_GROUP.key].items() if item} == {f"m-{i}" for i in range(1, 40, 3)}
    assert (
        found[MERCHANT_GROUP.key]["m-4"][F.MERCHANT_WINDOWS[1][0]] == 4
        and found[MERCHANT_GROUP.key]["_meta#version"] is None
    )
