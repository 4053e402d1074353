"""Helpers for the handler tests: Kafka I/O on isolated topics and a real scoring endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fraudstream.messages import CardAggregate, encode
from fraudstream.settings import Settings


class KafkaIO:
    """Produce to and read back from the real broker of a test's isolated topics."""

    def __init__(self, settings: Settings) -> None:
        from confluent_kafka import Producer

        from fraudstream.kafka_clients import producer_config

        self.settings = settings
        self.producer = Producer(producer_config(settings))

    def produce(self, topic: str, items: list[tuple[bytes | None, bytes]], partition: int | None = None, **kw) -> None:
        for key, value in items:
            extra = {"partition": partition} if partition is not None else {}
            self.producer.produce(topic, key=key, value=value, **extra, **kw)
        assert self.producer.flush(30) == 0

    def produce_aggs(self, aggs: list[CardAggregate | bytes]) -> None:
        """Aggregates keyed by card (raw bytes = a poison record, produced to partition 0)."""
        for agg in aggs:
            if isinstance(agg, bytes):
                self.producer.produce(self.settings.topic_agg, key=b"poison", value=agg, partition=0)
            else:
                self.producer.produce(self.settings.topic_agg, key=agg.cc_num.encode(), value=encode(agg))
        assert self.producer.flush(30) == 0

    def read(self, topic: str, expected: int, timeout: float = 60.0) -> list:
        """Every record of ``topic`` from the beginning, waiting until ``expected`` arrived (or timeout)."""
        from confluent_kafka import Consumer

        from fraudstream.kafka_clients import consumer_config

        consumer = Consumer(consumer_config(f"test-read-{uuid.uuid4().hex}", self.settings))
        consumer.subscribe([topic])
        out = []
        deadline = time.monotonic() + timeout
        try:
            while len(out) < expected and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=500, timeout=0.5):
                    if msg.error() is None:
                        out.append(msg)
            # a short grace period catches records beyond the expected count (duplicates, extras)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                out.extend(m for m in consumer.consume(num_messages=500, timeout=0.2) if m.error() is None)
        finally:
            consumer.close()
        return out


@pytest.fixture
def kafka_io(isolated_settings: Settings) -> Iterator[KafkaIO]:
    io = KafkaIO(isolated_settings)
    yield io
    io.producer.flush(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_model(model_dir: Path) -> None:
    """A small real XGBoost model on the anchor inputs (fallback until the shared fixture exists)."""
    import numpy as np
    import xgboost as xgb

    from fraudstream import features as F
    from fraudstream.model.registry import save_model

    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 2.0, size=(2000, 4))
    x[rng.random(2000) < 0.2, 1:] = np.nan  # no 1-week history
    y = ((x[:, 3] > 4) | (x[:, 0] > 9)).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 20)
    names = list(F.model_input_names("anchor"))
    save_model(
        model_dir,
        booster,
        feature_set="anchor",
        feature_names=names,
        threshold=0.5,
        threshold_rule="test",
        training_window={"from": "2020-01-01", "to": "2020-01-02"},
        data_hash="test",
    )


@pytest.fixture(scope="session")
def scoring_endpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """``(url, model_dir)`` of a real endpoint process: the shared fixtures when present, else our own."""
    try:
        url = request.getfixturevalue("endpoint_url")
        model_dir = request.getfixturevalue("trained_model_dir")
        yield url.rstrip("/"), Path(model_dir)
        return
    except pytest.FixtureLookupError:
        pass
    model_dir = tmp_path_factory.mktemp("models")
    _tiny_model(model_dir)
    port = _free_port()
    log = open(model_dir / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fraudstream.serving",
            "serve",
            "--model-dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (model_dir / "serve.log").read_text()
            time.sleep(0.2)
        yield url, model_dir
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def scorer_settings(isolated_settings: Settings, scoring_endpoint: tuple[str, Path]) -> Settings:
    """Isolated topics/tables plus the endpoint and its model registry."""
    url, model_dir = scoring_endpoint
    return isolated_settings.model_copy(update={"endpoint_url_override": url, "model_dir": model_dir})
