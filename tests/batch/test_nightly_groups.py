"""The nightly load of the card windows and merchant groups, and serving == training (real Spark + DynamoDB Local).

One night is loaded; the scorer's own read path (cache → one BatchGetItem over the tables) then
reads the items for that day's transactions, and its model inputs must equal the training set's
for the same transactions, bit for bit: the merchant risk the scorer serves is the one trained on.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.batch.io import read_transactions
from fraudstream.batch.nightly import run_nightly
from fraudstream.batch.training_set import training_frame
from fraudstream.featurestore.aggregates import Aggregate
from fraudstream.featurestore.batch_cache import BatchFeatureCache
from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP
from fraudstream.handlers.fraud_scorer import model_inputs, read_nightly
from fraudstream.handlers.msk_event import KafkaRecord
from fraudstream.messages import format_time
from fraudstream.model.dataset import feature_matrix

from .helpers import QUIET_CARD, QUIET_MERCHANT, RICH_AS_OF, rich_transactions

pytestmark = pytest.mark.integration

AS_OF = RICH_AS_OF


@pytest.fixture(scope="module")
def tx_path(tmp_path_factory) -> str:
    return rich_transactions(tmp_path_factory.mktemp("nightly-groups") / "tx.parquet")


def _decoded(rows: pd.DataFrame) -> list[tuple[KafkaRecord, Aggregate]]:
    """The day's transactions as the scorer decodes them from ``cc-agg`` (10-minute values as trained)."""
    out = []
    for i, row in enumerate(rows.itertuples()):
        agg = Aggregate(
            row.tid,
            row.cc_num,
            row.amount,
            format_time(row.trans_time.to_pydatetime()),
            int(row.num_trans_last_10m),
            row.avg_amt_last_10m,
            row.max_amt_last_10m,
            row.merchant,
        )
        out.append((KafkaRecord("cc-agg", 0, i, 0, "CREATE_TIME", None, b"{}"), agg))
    return out


def test_served_nightly_values_equal_the_training_sets(spark, tx_path, isolated_tables) -> None:
    summary = run_nightly(spark, tx_path, AS_OF, isolated_tables)
    assert summary["failed"] == 0 and summary["label_delay_days"] == 7
    assert (summary["merchant"], summary["merchant_expired"]) == (6, 1)
    assert summary["card_windows_expired"] == 1 and summary["card_windows"] >= 25
    store = DynamoFeatureStore(isolated_tables)
    gone = store.get_record(MERCHANT_GROUP, QUIET_MERCHANT)
    assert gone is not None and gone["merchant_num_trans_30d"] == 0 and "merchant_risk_30d" not in gone
    assert store.get_record(CARD_WINDOWS_GROUP, QUIET_CARD)[F.NUM_TRANS_LAST_30D] == 0

    rows = training_frame(read_transactions(spark, tx_path), AS_OF, AS_OF).toPandas()
    rows = rows.sort_values("tid").reset_index(drop=True)
    assert len(rows) > 20
    rows.loc[0, "merchant"], rows.loc[1, "merchant"] = "m-never-seen", None  # unknown / no merchant
    trained = rows.copy()
    trained.loc[[0, 1], list(F.MERCHANT_FEATURES)] = np.nan  # what the scorer can know of them

    calls: Counter = Counter()
    store.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    cache = BatchFeatureCache(store, check_interval_s=60.0)
    scored = read_nightly(_decoded(rows), SimpleNamespace(batch_cache=cache), F.nightly_names("merchant-risk-v4"))
    assert calls["BatchGetItem"] == 1  # cards, card windows and merchants: one read of the three tables

    served = model_inputs(scored, "merchant-risk-v4")
    np.testing.assert_array_equal(served, feature_matrix(trained, "merchant-risk-v4"))
    named = pd.DataFrame(served, columns=F.MERCHANT_RISK_V4_INPUTS)
    assert named["merchant_risk_30d"].iloc[2:].gt(0).all() and named["merchant_risk_30d"].iloc[:2].isna().all()
    assert named[F.NUM_TRANS_LAST_30D].notna().sum() > 20
    assert named[F.MERCHANT_FIRST_KNOWN_FRAUD_AGE].iloc[2:].gt(0).all()  # every merchant knows a fraud here
    assert named[F.MERCHANT_KNOWN_FRAUD_CARDS[30]].iloc[2:].gt(0).all()
    assert named[F.AMT_ZSCORE_30D].notna().sum() > 20 and named[F.MAX_AMT_LAST_30D].notna().sum() > 20

    calls.clear()  # a second batch of the same keys: served from the cache
    assert (
        model_inputs(
            read_nightly(_decoded(rows), SimpleNamespace(batch_cache=cache), F.nightly_names("merchant-risk-v4")),
            "merchant-risk-v4",
        ).tobytes()
        == served.tobytes()
    )
    assert calls["BatchGetItem"] == 0


def _scan(settings, group) -> dict[str, dict]:
    """Every key's item of a group's table (the batch-version marker is not a key)."""
    from fraudstream.aws_clients import dynamodb_client
    from fraudstream.featurestore.dynamodb_store import from_item, is_reserved_key

    client, key, items = dynamodb_client(settings), group.record_identifier, {}
    for page in client.get_paginator("scan").paginate(TableName=group.table_name(settings), ConsistentRead=True):
        for item in page["Items"]:
            if not is_reserved_key(item[key]["S"]):
                items[item[key]["S"]] = from_item(group, item)
    return items


def test_backfill_writes_every_nightly_group_as_the_runs_in_order_would(spark, tx_path, isolated_tables) -> None:
    """``batch backfill`` over 2020-02-05 .. 02-10 leaves the three tables item for item as the six
    nightly runs in order leave them: the 1-week group, the card windows and the merchant group, with
    the quiet merchant's and quiet card's empty items of 02-08 (their longest window emptied then)."""
    from fraudstream.batch.nightly import run_backfill
    from fraudstream.featurestore.groups import BATCH_GROUP, ensure_tables
    from fraudstream.testing.engines import _delete_tables, isolated_copy

    first, last = date(2020, 2, 5), date(2020, 2, 10)  # the data ends on 2020-02-09
    day = first
    while day <= last:
        run_nightly(spark, tx_path, day, isolated_tables)
        day = date.fromordinal(day.toordinal() + 1)
    backfilled = isolated_copy(isolated_tables, "backfill")
    ensure_tables(backfilled)
    try:
        summary = run_backfill(spark, tx_path, first, last, backfilled)
        assert summary["failed"] == 0 and summary["label_delay_days"] == 7
        assert (summary["merchant_expired"], summary["card_windows_expired"]) == (1, 1)
        for group in (BATCH_GROUP, CARD_WINDOWS_GROUP, MERCHANT_GROUP):
            expected, stored = _scan(isolated_tables, group), _scan(backfilled, group)
            assert stored == expected, group.key
        for group in (CARD_WINDOWS_GROUP, MERCHANT_GROUP):
            assert summary[f"{group.key}_load"]["written"] == len(_scan(backfilled, group)), group.key
        gone = _scan(backfilled, MERCHANT_GROUP)[QUIET_MERCHANT]
        assert gone["as_of"] == "2020-02-08T00:00:00.000Z" and gone["merchant_num_trans_30d"] == 0
        assert _scan(backfilled, CARD_WINDOWS_GROUP)[QUIET_CARD]["as_of"] == "2020-02-08T00:00:00.000Z"
    finally:
        _delete_tables(backfilled)
