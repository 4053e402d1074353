"""Bad records on ``labels`` through the monitor's consumer on real Kafka.

The monitor is the consumer of ``labels`` on the verdict side (the lake archiver is the other: same
``messages.decode``). Each malformed label gets a dead letter (stage ``monitor``) naming the reason,
the good labels around it are applied, and the consumer keeps polling. Documented outcomes
(docs/faults.md): a non-UTF-8 Kafka key on a valid label is ignored (labels are joined by the
value's ``tid``); a duplicate ``tid`` keeps the label with the latest ``labelled_at``.

Before the fix, a JSON nesting bomb (``RecursionError``) or a 5,000-digit number (``ValueError``)
escaped ``decode``: the monitor's poll failed, and the batch holding it was skipped without being
stored (the archiver crashed on it, again after every restart).
"""

from __future__ import annotations

import json
import uuid

import pytest

from fraudstream.messages import DeadLetter, DecodeError, Label, decode

NESTING_BOMB = b"[" * 100_000
HUGE_NUMBER = b'{"tid": "t-num", "is_fraud": 1' + b"1" * 5_000 + b', "labelled_at": "2026-01-05T12:00:00.000Z"}'


def _label(tid: str, is_fraud: bool, minute: int) -> bytes:
    return json.dumps({"tid": tid, "is_fraud": is_fraud, "labelled_at": f"2026-01-05T12:{minute:02d}:00.000Z"}).encode()


BAD = {
    b"not json at all": "<record>: not valid JSON",
    b"\xff\xfe\x00garbage": "<record>: not valid JSON",
    NESTING_BOMB: "<record>: not valid JSON (nested too deeply)",
    HUGE_NUMBER: "<record>: not valid JSON (Exceeds the limit",
    b'{"tid": "t-x", "is_fraud": "maybe", "labelled_at": "2026-01-05T12:00:00.000Z"}': "is_fraud:",
    b'{"tid": "t-y", "is_fraud": true}': "labelled_at: missing",
    b"[1, 2]": "<record>: expected a JSON object",
}


@pytest.mark.parametrize("value", [NESTING_BOMB, HUGE_NUMBER], ids=["nesting-bomb", "5000-digit-number"])
def test_decode_turns_parser_limits_into_a_decode_error(value: bytes) -> None:
    with pytest.raises(DecodeError, match="not valid JSON"):
        decode(Label, value)


@pytest.mark.integration
def test_bad_labels_dead_letter_and_the_monitor_keeps_going(isolated_topics, tmp_path) -> None:
    from confluent_kafka import Producer

    from fraudstream.kafka_clients import producer_config
    from fraudstream.monitor.consumer import MonitorConsumer
    from fraudstream.monitor.metrics import MonitorMetrics
    from fraudstream.monitor.store import MonitorStore
    from fraudstream.streaming import testkit
    from fraudstream.waiting import wait_until

    s = isolated_topics
    items = [
        (b"4000000000000011", _label("t-1", True, 1)),
        *((b"4000000000000011", value) for value in BAD),
        (b"\xff\xfe\x80", _label("t-2", False, 2)),  # non-UTF-8 key, valid label
        (b"4000000000000011", _label("t-1", False, 5)),  # duplicate tid, later: the correction wins
        (b"4000000000000011", _label("t-1", True, 3)),  # duplicate tid, older: ignored
        (b"4000000000000011", _label("t-3", True, 4)),
    ]
    producer = Producer(producer_config(s))
    for key, value in items:
        producer.produce(s.topic_labels, key=key, value=value, partition=0)
    assert producer.flush(30) == 0

    store = MonitorStore(tmp_path / "monitor.sqlite")
    metrics = MonitorMetrics()
    consumer = MonitorConsumer(s, store, metrics, f"badinput-{uuid.uuid4().hex[:8]}")
    offsets = (s.topic_labels, 0)
    try:
        wait_until(
            lambda: consumer.poll_once() >= 0 and store.offsets().get(offsets) == len(items),
            60,
            "the monitor to pass every label",
            interval=0,
        )
    finally:
        consumer.close()

    labels = dict(store.query("SELECT tid, is_fraud FROM labels"))
    assert labels == {"t-1": 0, "t-2": 0, "t-3": 1}
    records = testkit.consume(s, s.topic_dead_letter, lambda r: len(r) >= len(BAD), timeout=60)
    letters = [decode(DeadLetter, r["value"]) for r in records]
    assert sorted(letter.offset for letter in letters) == list(range(1, 1 + len(BAD)))
    for letter in letters:
        expected = list(BAD.values())[letter.offset - 1]
        assert letter.stage == "monitor" and letter.source_topic == s.topic_labels
        assert letter.error.startswith(expected), (expected, letter.error)
    bomb = next(letter for letter in letters if letter.offset == 1 + list(BAD).index(NESTING_BOMB))
    assert len(bomb.payload) <= 64 * 1024
    assert metrics.rejected.labels(s.topic_labels)._value.get() == len(BAD)
