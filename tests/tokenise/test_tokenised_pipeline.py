"""With a tokenisation key set, card numbers never get past the edge (issue 19), and the pipeline
still joins: a generated file goes through the producer into real Kafka, the real Flink job,
the agg-writer into DynamoDB Local, and the nightly Spark job into the batch feature group.

Asserted: every byte on ``transactions``, ``labels``, ``cc-agg`` and ``dead-letter`` is free of
the raw numbers (keys and values carry tokens; the malformed row is dead-lettered, redacted);
both feature groups are keyed by tokens; ``featurestore get <raw number>`` finds the card by its
token and prints no raw number; and Spark's 10-minute features of the same file (read through
``batch/io``) equal Flink's for every transaction, token for token.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from fraudstream import features
from fraudstream import tokenise as tk
from fraudstream.generator import write_transactions
from fraudstream.generator.table import TRANSACTION_SCHEMA
from fraudstream.settings import Settings
from fraudstream.streaming import testkit

# engines on a 2-core box under load: Flink, Spark and DynamoDB Local each take minutes to answer
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

KEY = bytes(range(100, 132))
CARDS = ["4111111111111111", "5555555555554444", "4000056655665556"]
MALFORMED = "4111-1111-1111-1111"
START = datetime(2020, 3, 2, 10, 0, tzinfo=UTC)
SECRETS = [c.encode() for c in [*CARDS, MALFORMED]]


@pytest.fixture(scope="module")
def key_env() -> Iterator[dict[str, str]]:
    """Tokenisation on in this process (and for the CLI it starts); off again afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tk.KEY_FILE_ENV, raising=False)
        mp.setenv(tk.KEY_ENV, KEY.hex())
        tk.get_tokeniser.cache_clear()
        yield {tk.KEY_ENV: KEY.hex()}
    tk.get_tokeniser.cache_clear()


def _transactions_file(folder: Path) -> Path:
    """Four transactions per card, 3 minutes apart and interleaved, then one malformed card number."""
    rows = [(f"tok-{i:02d}", START + timedelta(minutes=i), CARDS[i % 3], 10.0 + 7 * i) for i in range(12)]
    rows.append(("bad-13", START + timedelta(minutes=13), MALFORMED, 5.0))
    table = pa.table(
        {
            "tid": [r[0] for r in rows],
            "trans_time": [r[1] for r in rows],
            "cc_num": [r[2] for r in rows],
            "amount": [r[3] for r in rows],
            "fraud_label": [0] * len(rows),
            "attack_id": [None] * len(rows),
            "attack_kind": [None] * len(rows),
        },
        schema=TRANSACTION_SCHEMA,
    )
    return write_transactions(table, folder / "transactions.parquet")


def _read_all(settings: Settings, topic: str, expected: int, match: bytes = b"tok-", timeout: float = 180.0) -> list:
    """Every message of ``topic`` (confluent ``Message`` objects, heartbeats included) read until
    ``expected`` of them have ``match`` in their value."""
    import time

    from confluent_kafka import Consumer

    from fraudstream.kafka_clients import consumer_config

    consumer = Consumer(consumer_config(f"tok-{uuid.uuid4().hex[:8]}", settings))
    consumer.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    found = 0
    try:
        while found < expected and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(500, 0.5) if m.error() is None]
            found += sum(match in (m.value() or b"") for m in batch)
            out += batch
    finally:
        consumer.close()
    assert found >= expected, f"{topic}: {found} of {expected} records"
    return out


def _leaks(messages: list) -> list[bytes]:
    return [blob for m in messages for blob in (m.key() or b"", m.value() or b"") if any(s in blob for s in SECRETS)]


@pytest.fixture(scope="module")
def tokens(key_env) -> dict[str, str]:
    return {card: tk.token_for(card, KEY) for card in CARDS}


@pytest.fixture(scope="module")
def stream(
    key_env, settings: Settings, kafka_bootstrap: str, dynamodb_endpoint: str, flink_rest: str, tmp_path_factory
):
    """The file through the producer, Kafka, the Flink job and the agg-writer (own topics and tables)."""
    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.handlers import agg_writer
    from fraudstream.handlers.msk_event import build_event, from_confluent, local_event_source_arn
    from fraudstream.handlers.resources import HandlerResources
    from fraudstream.kafka_clients import ensure_topics
    from fraudstream.producer import produce
    from fraudstream.testing.engines import isolated_copy

    s = isolated_copy(settings, f"tok-{uuid.uuid4().hex[:8]}")
    ensure_topics(s)
    ensure_tables(s)
    path = _transactions_file(tmp_path_factory.mktemp("tokenised"))
    with testkit.running_job(s):
        summary = produce(path, s)
        aggregates = [m for m in _read_all(s, s.topic_agg, 12) if b"tok-" in m.value()]
    event = build_event(
        [from_confluent(m) for m in aggregates], local_event_source_arn(s.aws_region), s.kafka_bootstrap
    )
    written = agg_writer.handle(event, None, HandlerResources(s))
    return {
        "settings": s,
        "path": path,
        "summary": summary,
        "written": written,
        "aggregates": aggregates,
        "sent": _read_all(s, s.topic_transactions, 12),
        "labels": _read_all(s, s.topic_labels, 12),
        "dead": _read_all(s, s.topic_dead_letter, 1, match=b"bad-13", timeout=30),
    }


def _flink_features(aggregates: list) -> dict[str, tuple]:
    out = {}
    for message in aggregates:
        record = json.loads(message.value())
        out[record["tid"]] = (record["cc_num"], *(record[name] for name in features.STREAM_FEATURES))
    return out


def test_topics_carry_tokens_never_the_numbers(stream, tokens) -> None:
    summary = stream["summary"]
    assert (summary.transactions_sent, summary.labels_sent, summary.rejected) == (12, 12, 1)
    assert _leaks(stream["sent"] + stream["labels"] + stream["aggregates"] + stream["dead"]) == []
    real = [m for m in stream["sent"] if json.loads(m.value()).get("tid", "").startswith("tok-")]
    assert {m.key().decode() for m in real} == set(tokens.values())
    flink = _flink_features(stream["aggregates"])
    assert len(flink) == 12 and {v[0] for v in flink.values()} == set(tokens.values())
    (dead,) = [json.loads(m.value()) for m in stream["dead"] if b"bad-13" in m.value()]
    assert "16 digits" in dead["error"] and tk.REDACTED_PREFIX in dead["payload"]


def test_batch_features_equal_stream_and_both_groups_are_keyed_by_tokens(stream, tokens, key_env, spark) -> None:
    from fraudstream.batch.io import read_transactions
    from fraudstream.batch.nightly import run_nightly
    from fraudstream.batch.stream_features import add_stream_features
    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.featurestore.groups import BATCH_GROUP, STREAM_GROUP

    s, path = stream["settings"], stream["path"]
    assert stream["written"] == {"batchItemFailures": []}
    frame = read_transactions(spark, str(path))  # batch/io: the same file, tokenised by a Spark UDF
    spark_rows = add_stream_features(frame).where("tid LIKE 'tok-%'").collect()
    batch = {r["tid"]: (r["cc_num"], *(r[name] for name in features.STREAM_FEATURES)) for r in spark_rows}
    assert batch == _flink_features(stream["aggregates"])
    run_nightly(spark, str(path), date(2020, 3, 3), settings=s)

    store = DynamoFeatureStore(s)
    stream_keys = {r["cc_num"] for r in store.scan_records(STREAM_GROUP)}
    batch_keys = {r["cc_num"] for r in store.scan_records(BATCH_GROUP)}
    assert stream_keys == set(tokens.values()) and set(tokens.values()) <= batch_keys
    assert not any(key in CARDS for key in batch_keys)

    # featurestore get <raw number>: found by its token, and the number is not printed
    env = {
        **os.environ,
        **key_env,
        "AWS_ENDPOINT_URL": s.aws_endpoint_url,
        "FRAUDSTREAM_TABLE_AGG": s.table_agg,
        "FRAUDSTREAM_TABLE_BATCH": s.table_batch,
    }
    cli = [sys.executable, "-m", "fraudstream.cli.main", "featurestore", "get", CARDS[0]]
    out = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cc_num"] == tokens[CARDS[0]] and doc["tokenised"] is True
    assert doc["stream"]["tid"] == "tok-09" and doc["batch"][features.NUM_TRANS_LAST_1W] == 4
    assert CARDS[0] not in out.stdout
