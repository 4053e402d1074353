"""Archive → lake → nightly against real Kafka, DynamoDB Local and Spark (isolated topics and tables).

What the nightly job sees for a day must equal what was on the topic: the store after a lake run
equals a direct pandas computation over the very transactions produced, also when the archiver
delivered some of them twice (at-least-once) and with heartbeats and a bad record on the topic.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.aws_clients import dynamodb_client
from fraudstream.batch.nightly import run_nightly
from fraudstream.batch.training_set import build_training_set
from fraudstream.featurestore.dynamodb_store import from_item, is_reserved_key
from fraudstream.featurestore.groups import BATCH_GROUP
from fraudstream.kafka_clients import consumer_config, producer_config
from fraudstream.lake.archiver import STAGE, LakeArchiver
from fraudstream.messages import Heartbeat, Label, Transaction, encode

pytestmark = pytest.mark.integration

AS_OF = date(2020, 1, 12)
ROWS = 1500


def traffic(seed: int = 11) -> pd.DataFrame:
    """Random transactions of 30 cards at 12 merchants (one in ten with none) over 2020-01-01 ..
    2020-01-14 (with same-card bursts); 15 % frauds, each labelled 1 hour to 12 days later."""
    rng = np.random.default_rng(seed)
    cards = [f"4{rng.integers(10**14, 10**15):015d}" for _ in range(30)]
    merchants = [f"shop-{k}" for k in range(12)]
    start = pd.Timestamp("2020-01-01", tz="UTC")
    trans_time = start + pd.to_timedelta(rng.integers(0, 14 * 86_400_000, ROWS), unit="ms")
    fraud = (rng.random(ROWS) < 0.15).astype(int)
    delay = pd.to_timedelta(rng.integers(3_600_000, 12 * 86_400_000, ROWS), unit="ms")
    merchant = [merchants[m] if rng.random() > 0.1 else None for m in rng.integers(0, len(merchants), ROWS)]
    return pd.DataFrame(
        {
            "tid": [f"t{i:05d}" for i in range(ROWS)],
            "cc_num": [cards[c] for c in rng.integers(0, len(cards), ROWS)],
            "trans_time": trans_time,
            "amount": np.round(rng.random(ROWS) * 500 + 0.01, 2),
            "fraud_label": fraud,
            "merchant": merchant,
            "labelled_at": (trans_time + delay).where(fraud == 1),
        }
    )


def produce(settings, frame: pd.DataFrame) -> None:
    """Every transaction (the first 100 twice, as a re-delivery would), labels, heartbeats, one bad record."""
    from confluent_kafka import Producer

    producer = Producer(producer_config(settings))
    rows = frame.to_dict("records")
    for row in rows + rows[:100]:
        tx = Transaction(
            tid=row["tid"],
            cc_num=row["cc_num"],
            amount=row["amount"],
            trans_time=row["trans_time"],
            merchant=row["merchant"],
        )
        producer.produce(settings.topic_transactions, key=row["cc_num"].encode(), value=encode(tx))
        if row["fraud_label"]:
            label = Label(tid=row["tid"], is_fraud=True, labelled_at=row["labelled_at"])
            producer.produce(settings.topic_labels, key=row["cc_num"].encode(), value=encode(label))
    beat = Heartbeat(trans_time=datetime.now(UTC), clock="test", seq=1)
    producer.produce(settings.topic_transactions, key=b"__clock__", value=encode(beat))
    producer.produce(settings.topic_transactions, key=b"bad", value=b'{"tid": "x1", "amount": "lots"}')
    assert producer.flush(30) == 0


def scan_batch_table(settings) -> dict[str, dict]:
    client = dynamodb_client(settings)
    items: dict[str, dict] = {}
    for page in client.get_paginator("scan").paginate(TableName=BATCH_GROUP.table_name(settings), ConsistentRead=True):
        for item in page["Items"]:
            if not is_reserved_key(item["cc_num"]["S"]):
                record = from_item(BATCH_GROUP, item)
                items[record["cc_num"]] = record
    return items


def dead_letters(settings) -> list[dict]:
    from confluent_kafka import Consumer

    consumer = Consumer(consumer_config("lake-test-dl", settings))
    consumer.subscribe([settings.topic_dead_letter])
    letters = [json.loads(m.value()) for m in consumer.consume(num_messages=10, timeout=10) if not m.error()]
    consumer.close()
    return letters


@pytest.fixture
def archived(isolated_settings, tmp_path: Path):
    """The traffic produced to isolated topics and archived into a fresh lake (settings, frame, stats)."""
    settings = isolated_settings.model_copy(update={"lake_dir": str(tmp_path / "lake")})
    frame = traffic()
    produce(settings, frame)
    stats = LakeArchiver(settings, flush_records=700, flush_interval_s=60).run(idle_exit_s=4.0)
    return settings, frame, stats


def test_archive_then_nightly_equals_direct_computation(spark, archived) -> None:
    settings, frame, stats = archived
    assert stats.archived["transactions"] == ROWS + 100  # at-least-once: the re-delivered 100 are in the lake
    assert stats.archived["labels"] == int(frame.fraud_label.sum()) + int(frame.fraud_label[:100].sum())
    assert stats.heartbeats == 1 and stats.dead_lettered == 1
    assert stats.files > 2  # several flushes, one file per (topic, day)

    # layout: <lake>/transactions/day=YYYY-MM-DD/part-*.parquet for every day with traffic
    lake = Path(settings.lake_dir)
    days = {p.name for p in (lake / "transactions").iterdir()}
    assert days == {f"day={d}" for d in frame.trans_time.dt.date.unique()}
    assert not list(lake.rglob(".*.tmp"))

    letters = dead_letters(settings)
    assert [(d["stage"], d["source_topic"]) for d in letters] == [(STAGE, settings.topic_transactions)]
    assert "amount" in letters[0]["error"] or "cc_num" in letters[0]["error"]

    summary = run_nightly(spark, None, AS_OF, settings=settings)
    assert summary["input"] == f"lake:{settings.lake_dir}"
    end = pd.Timestamp(AS_OF, tz="UTC")
    week = frame[(frame.trans_time >= end - timedelta(days=7)) & (frame.trans_time < end)]
    expected = {c: (len(g), g.amount.sum() / len(g)) for c, g in week.groupby("cc_num")}
    items = scan_batch_table(settings)
    active = {c: r for c, r in items.items() if r[F.NUM_TRANS_LAST_1W]}
    assert set(active) == set(expected)
    for card, (count, mean) in expected.items():
        assert active[card][F.NUM_TRANS_LAST_1W] == count, card
        assert active[card][F.AVG_AMT_LAST_1W] == pytest.approx(mean, rel=1e-9), card
    assert summary["transactions_in_window"] == len(week)  # duplicates were dropped on read


def test_training_set_from_lake_equals_from_file(spark, archived, tmp_path: Path) -> None:
    settings, frame, _ = archived
    source = tmp_path / "tx.parquet"
    times = {c: frame[c].astype("datetime64[ms, UTC]") for c in ("trans_time", "labelled_at")}
    frame.assign(**times).to_parquet(source, index=False)
    from_lake = build_training_set(spark, None, str(tmp_path / "ts-lake"), settings=settings)
    from_file = build_training_set(spark, str(source), str(tmp_path / "ts-file"), settings=settings)
    assert from_lake["rows_in"] == from_file["rows_in"] == ROWS

    def frame_of(path: str) -> pd.DataFrame:
        cols = ["tid", *F.ANCHOR_INPUTS, "fraud_label"]
        return spark.read.parquet(path).select(*cols).toPandas().sort_values("tid").reset_index(drop=True)

    pd.testing.assert_frame_equal(frame_of(str(tmp_path / "ts-lake")), frame_of(str(tmp_path / "ts-file")))


def scan_group(settings, group) -> dict[str, dict]:
    """Every item of a feature group's table but the reserved ones, by key."""
    client = dynamodb_client(settings)
    key = group.record_identifier
    items: dict[str, dict] = {}
    pages = client.get_paginator("scan").paginate(TableName=group.table_name(settings), ConsistentRead=True)
    for item in (item for page in pages for item in page["Items"]):
        if not is_reserved_key(item[key]["S"]):
            items[item[key]["S"]] = from_item(group, item)
    return items


def test_nightly_from_lake_builds_the_same_nightly_groups_as_from_file(spark, archived, tmp_path: Path) -> None:
    """The lake's transactions (with merchants) and labels (with ``labelled_at``) give the merchant and
    card windows groups that the same data as one file gives: point in time, label delay included."""
    from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP, ensure_tables

    settings, frame, _ = archived
    source = tmp_path / "tx.parquet"
    times = {c: frame[c].astype("datetime64[ms, UTC]") for c in ("trans_time", "labelled_at")}
    frame.assign(**times).to_parquet(source, index=False)
    file_settings = settings.model_copy(
        update={
            g.table_setting: g.table_name(settings) + "-file" for g in (BATCH_GROUP, CARD_WINDOWS_GROUP, MERCHANT_GROUP)
        }
    )
    created = ensure_tables(file_settings)
    try:
        from_lake = run_nightly(spark, None, AS_OF, settings=settings)
        from_file = run_nightly(spark, str(source), AS_OF, settings=file_settings)
        lake_groups = {g: scan_group(settings, g) for g in (MERCHANT_GROUP, CARD_WINDOWS_GROUP)}
        file_groups = {g: scan_group(file_settings, g) for g in (MERCHANT_GROUP, CARD_WINDOWS_GROUP)}
    finally:
        for table in created:
            dynamodb_client(settings).delete_table(TableName=table)
    assert from_lake["merchant"] == from_file["merchant"] > 5  # merchants with a transaction in 30 + 7 days
    assert lake_groups == file_groups
    lake_merchants = lake_groups[MERCHANT_GROUP]

    # the values are the rule's: over [as_of - 7 - N d, as_of - 7 d), frauds known before as_of
    end = pd.Timestamp(AS_OF, tz="UTC")
    labelled_late = frame[
        (frame.fraud_label == 1) & (frame.labelled_at >= end) & (frame.trans_time < end - timedelta(days=7))
    ]
    assert len(labelled_late) > 0  # some frauds of the windows were not known yet that night
    window = frame[(frame.trans_time >= end - timedelta(days=37)) & (frame.trans_time < end - timedelta(days=7))]
    for shop, rows in window.dropna(subset=["merchant"]).groupby("merchant"):
        known = ((rows.fraud_label == 1) & (rows.labelled_at < end)).sum()
        record = lake_merchants[shop]
        assert record["merchant_num_trans_30d"] == len(rows), shop
        assert record["merchant_risk_30d"] == known / len(rows), shop
