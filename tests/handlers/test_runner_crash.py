"""Kill the fraud-scorer runner with SIGKILL mid-stream, restart it: every transaction has a prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from fraudstream.messages import CardAggregate, Prediction, decode
from fraudstream.testing.engines import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]
N_BEFORE, N_AFTER = 200, 100


def aggs(start: int, count: int) -> list[CardAggregate]:
    return [
        CardAggregate(
            tid=f"tx-{i:05d}",
            cc_num=f"4{i % 37:015d}",
            amount=float(i % 500) + 0.99,
            trans_time=f"2020-03-02T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
            num_trans_last_10m=1 + i % 4,
            avg_amt_last_10m=float(i % 300) + 1.0,
        )
        for i in range(start, start + count)
    ]


def start_runner(settings, log_path) -> subprocess.Popen:
    env = {**os.environ, **settings_env(settings), "FRAUDSTREAM_ENDPOINT_URL": settings.endpoint_url}
    cmd = [
        sys.executable,
        "-m",
        "fraudstream.cli.main",
        "handlers",
        "run",
        "fraud-scorer",
        "--batch-size",
        "10",
        "--max-wait-ms",
        "20",
        "--group-id",
        settings.topic_agg + "-scorer",
    ]
    return subprocess.Popen(cmd, env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115


class PredictionReader:
    """Follows the predictions topic; ``tids`` is every distinct transaction scored so far."""

    def __init__(self, settings) -> None:
        from confluent_kafka import Consumer

        from fraudstream.kafka_clients import consumer_config

        self.consumer = Consumer(consumer_config(f"crash-test-{uuid.uuid4().hex}", settings))
        self.consumer.subscribe([settings.topic_predictions])
        self.tids: set[str] = set()
        self.total = 0

    def poll_until(self, done, timeout: float, proc: subprocess.Popen, log_path) -> None:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            assert proc.poll() is None, f"runner exited: {log_path.read_text()[-3000:]}"
            for m in self.consumer.consume(num_messages=500, timeout=0.1):
                if m.error() is None:
                    self.tids.add(decode(Prediction, m.value()).tid)
                    self.total += 1
        assert done(), f"timed out with {len(self.tids)} predictions; log: {log_path.read_text()[-3000:]}"


def test_sigkill_mid_stream_then_restart_scores_every_transaction(scorer_settings, kafka_io, tmp_path) -> None:
    s = scorer_settings
    log_path = tmp_path / "runner.log"
    first, second = aggs(0, N_BEFORE), aggs(N_BEFORE, N_AFTER)
    kafka_io.produce_aggs(first)
    reader = PredictionReader(s)

    proc = start_runner(s, log_path)
    try:
        reader.poll_until(lambda: len(reader.tids) >= 30, 90, proc, log_path)
        proc.send_signal(signal.SIGKILL)  # no chance to finish the batch or commit
        proc.wait(10)
        killed_at = len(reader.tids)
        kafka_io.produce_aggs(second)  # the stream goes on while the scorer is down

        proc = start_runner(s, log_path)
        wanted = {a.tid for a in first + second}
        reader.poll_until(lambda: reader.tids >= wanted, 120, proc, log_path)
        proc.send_signal(signal.SIGTERM)  # graceful: finishes its batch, commits, leaves the group
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.consumer.close()
    assert reader.tids == wanted
    assert 30 <= killed_at < len(wanted), f"killed after {killed_at} predictions"
    assert reader.total >= len(wanted)  # at-least-once: re-delivered batches may score a tid twice
