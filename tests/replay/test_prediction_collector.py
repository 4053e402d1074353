"""PredictionCollector on a real topic: it keeps the first copy of each wanted tid, and ``wait`` returns
when every wanted prediction came, or False at its timeout (the caller counts what is missing)."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Producer

from fraudstream.kafka_clients import producer_config
from fraudstream.replay.runner import PredictionCollector
from fraudstream.settings import Settings

pytestmark = pytest.mark.integration


def _send(settings: Settings, *records: dict) -> None:
    producer = Producer(producer_config(settings))
    for record in records:
        producer.produce(settings.topic_predictions, key=b"4300000000009001", value=json.dumps(record).encode())
    assert producer.flush(30) == 0


def test_wait_times_out_until_every_wanted_prediction_came(isolated_topics: Settings) -> None:
    settings = isolated_topics
    _send(settings, {"tid": "a", "copy": 0})  # before the collector: it reads from the end, so not kept
    collector = PredictionCollector(settings, ["a", "b"]).start()
    try:
        _send(settings, {"tid": "a", "copy": 1}, {"tid": "x"}, {"tid": "a", "copy": 2})
        began = time.monotonic()
        assert collector.wait(1.0, interval=0.05) is False  # "b" never sent
        assert time.monotonic() - began >= 1.0
        assert collector.count() == 1 and collector.received["a"][0]["copy"] == 1  # the first copy wins

        _send(settings, {"tid": "b"})
        assert collector.wait(30, interval=0.05) is True
        assert set(collector.received) == {"a", "b"}  # "x" was not wanted
    finally:
        collector.stop()
