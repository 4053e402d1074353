"""generate -> produce -> consume on a real broker: same records, on their keys' partitions, labels too."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from fraudstream.generator import GeneratorConfig, generate, write_transactions
from fraudstream.kafka_clients import consumer_config
from fraudstream.messages import DeadLetter, Label, Transaction, decode
from fraudstream.producer import produce
from fraudstream.record_source import Selection
from fraudstream.settings import Settings
from fraudstream.stack.partitioning import partition_for_key
from fraudstream.testing.engines import settings_env

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(cards=60, transactions=6_000, start="2020-01-01", end="2020-01-08", fraud_ratio=0.01, seed=21)


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (all partitions, from the beginning) once ``expected`` have arrived."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(consumer_config(f"test-{topic}", settings, **{"enable.partition.eof": False}))
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(settings.partitions)])
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                assert msg.error() is None, msg.error()
                records.append(msg)
        for msg in consumer.consume(num_messages=10_000, timeout=0.5):  # nothing extra may follow
            records.append(msg)
        return records
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return generate(CONFIG)


def test_file_round_trip_partitions_and_labels(isolated_topics: Settings, rows: pd.DataFrame, tmp_path: Path) -> None:
    settings = isolated_topics
    path = write_transactions(rows, tmp_path / "tx.parquet")
    summary = produce(path, settings)
    assert summary.ok and not summary.interrupted
    assert (summary.transactions_sent, summary.labels_sent, summary.rejected) == (len(rows), len(rows), 0)

    sent = consume_all(settings, settings.topic_transactions, len(rows))
    assert len(sent) == len(rows)
    by_tid = {}
    per_partition_times: dict[tuple[int, str], list] = defaultdict(list)
    for msg in sent:
        tx = decode(Transaction, msg.value())
        assert msg.key() == tx.cc_num.encode()
        assert msg.partition() == partition_for_key(tx.cc_num, settings.partitions)
        by_tid[tx.tid] = tx
        per_partition_times[(msg.partition(), tx.cc_num)].append((msg.offset(), tx.trans_time))
    expected = {
        r.tid: Transaction(tid=r.tid, cc_num=r.cc_num, amount=r.amount, trans_time=r.trans_time.to_pydatetime())
        for r in rows.itertuples()
    }
    assert by_tid == expected
    for events in per_partition_times.values():  # each card's records keep their time order
        times = [t for _, t in sorted(events)]
        assert times == sorted(times)

    labels = consume_all(settings, settings.topic_labels, len(rows))
    assert len(labels) == len(rows)
    decoded = {decode(Label, m.value()).tid: (m, decode(Label, m.value())) for m in labels}
    fraud = dict(zip(rows.tid, rows.fraud_label, strict=True))
    assert {tid: int(label.is_fraud) for tid, (_, label) in decoded.items()} == fraud
    for msg, label in decoded.values():
        assert msg.partition() == partition_for_key(label.cc_num, settings.partitions)
        assert label.labelled_at == expected[label.tid].trans_time


def test_stdin_bad_lines_go_to_dead_letter(isolated_topics: Settings) -> None:
    settings = isolated_topics
    good = {"tid": "s1", "cc_num": "4111111111111111", "amount": 5.5, "trans_time": "2020-01-01T00:00:00.000Z"}
    lines = [json.dumps({**good, "is_fraud": True}), '{"tid": "s2", "amount": 3}', json.dumps({**good, "tid": "s3"})]
    summary = produce("-", settings, stdin=io.BytesIO("\n".join(lines).encode()), selection=Selection(limit=10))
    assert summary.ok and (summary.transactions_sent, summary.labels_sent, summary.rejected) == (2, 1, 1)
    letters = [decode(DeadLetter, m.value()) for m in consume_all(settings, settings.topic_dead_letter, 1)]
    assert len(letters) == 1
    assert letters[0].stage == "producer" and letters[0].source_topic == "stdin" and letters[0].offset == 2
    assert letters[0].error == "cc_num: missing"
    assert json.loads(letters[0].payload)["tid"] == "s2"


def test_failed_deliveries_are_counted_and_fail_the_cli(isolated_topics: Settings, tmp_path: Path) -> None:
    """Labels go to a topic that refuses records over 100 bytes: every label fails, exit code 1."""
    from confluent_kafka.admin import AdminClient, NewTopic

    tiny = isolated_topics.topic_labels + "-tiny"
    admin = AdminClient({"bootstrap.servers": isolated_topics.kafka_bootstrap})
    admin.create_topics([NewTopic(tiny, 1, 1, config={"max.message.bytes": "100"})])[tiny].result()
    settings = isolated_topics.model_copy(update={"topic_labels": tiny})
    path = write_transactions(generate(GeneratorConfig(cards=5, transactions=20, fraud_ratio=0)), tmp_path / "t.csv")
    try:
        summary = produce(path, settings)
        assert not summary.ok
        assert summary.failed == 20 and summary.errors_by_topic == {tiny: 20}
        assert summary.transactions_sent == 20 and summary.labels_sent == 0
        assert "MSG_SIZE_TOO_LARGE" in (summary.first_error or "")

        from fraudstream.cli.main import app
        from fraudstream.settings import get_settings

        env = {**settings_env(settings), "FRAUDSTREAM_TOPIC_LABELS": tiny}
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["produce", str(path), "--rate", "1000", "--limit", "5"], env=env)
        get_settings.cache_clear()
        assert result.exit_code == 1, result.output
        assert "failed 5" in result.output.replace("\n", " ")
    finally:
        admin.delete_topics([tiny])


def test_ctrl_c_flushes_and_reports(isolated_topics: Settings, rows: pd.DataFrame, tmp_path: Path) -> None:
    """SIGINT mid-stream: the CLI flushes what it queued, reports it, exits 130; the topic holds exactly that."""
    settings = isolated_topics
    path = write_transactions(rows, tmp_path / "tx.parquet")
    env = {**os.environ, **settings_env(settings)}
    cmd = [sys.executable, "-m", "fraudstream.cli.main", "produce", str(path), "--rate", "200", "--no-labels"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = consume_all(settings, settings.topic_transactions, 1, timeout_s=60)
        if not first:
            proc.kill()
            pytest.fail(f"nothing was produced before the interrupt: {proc.communicate()[0]}")
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    flat = " ".join(output.split())
    assert "; interrupted" in flat and "failed 0" in flat
    sent = int(re.search(r"sent ([\d,]+) transactions", flat).group(1).replace(",", ""))
    assert 0 < sent < len(rows)
    assert len(consume_all(settings, settings.topic_transactions, sent)) == sent


def test_replay_by_time_holds_labels_until_labelled_at(isolated_topics: Settings, tmp_path: Path) -> None:
    """Rich file, 1 day of event time in ~2 s: each label leaves at its labelled_at, so in that order."""
    config = GeneratorConfig(
        cards=30, transactions=1_500, start="2020-01-01", end="2020-01-02", fraud_ratio=0.02, seed=4,
        profile="rich", merchants=100, fraud_label_delay_days=(0.05, 0.5), legit_label_delay_days=0.25,
    )  # fmt: skip
    rows = generate(config)
    speedup = 86_400 / 2
    settings = isolated_topics
    path = write_transactions(rows, tmp_path / "rich.parquet")
    before_ms = time.time() * 1000  # the replay clock starts after this
    summary = produce(path, settings, speedup=speedup)
    assert summary.ok and (summary.transactions_sent, summary.labels_sent, summary.labels_held) == (1_500, 1_500, 0)

    first = rows.trans_time.iloc[0]
    due_ms = {
        tid: (t - first).total_seconds() * 1000 / speedup for tid, t in zip(rows.tid, rows.labelled_at, strict=True)
    }
    known = {tid: t.to_pydatetime() for tid, t in zip(rows.tid, rows.labelled_at, strict=True)}
    by_partition: dict[int, list] = defaultdict(list)
    for msg in sorted(consume_all(settings, settings.topic_labels, 1_500), key=lambda m: m.offset()):
        label = decode(Label, msg.value())
        assert label.labelled_at == known[label.tid]
        assert msg.timestamp()[1] >= before_ms + due_ms[label.tid] - 1  # not before its time (create time, ms)
        by_partition[msg.partition()].append(label.labelled_at)
    for times in by_partition.values():  # sent as they fell due, not in transaction order
        assert times == sorted(times)
    partition = rows.cc_num.map(lambda c: partition_for_key(c, settings.partitions))
    assert any(not g.is_monotonic_increasing for _, g in rows.labelled_at.groupby(partition))  # the check has teeth
