"""Bad records on ``transactions`` through the cc-agg job on a real Flink cluster and Kafka broker.

One job run with its own topics and stream clock. Between two good transactions of one card:
a record with a 1 MB field, a record of almost Kafka's 1 MiB limit made of characters that JSON
must escape (its dead letter would be twice as large), a value that is not UTF-8, a valid record
with a non-UTF-8 key, and an identical copy of the first transaction (a duplicate ``tid``).

Expected (docs/faults.md "Bad input"): each bad record gets one dead letter with the reason, small
enough for the topic (payload capped at 64 KiB: before, the escaped record's dead letter was over
the limit and failed the job on every restart); the value must be UTF-8 (before, the source turned
bad bytes into U+FFFD and scored a transaction with a changed tid); the job keeps running and the
good transactions after them are computed exactly; the key is not read (records are keyed by the
value's ``cc_num``). The job does not de-duplicate by ``tid``: a copy sent after a newer transaction
of its card is late for the card and dead-lettered as such (here), one sent at once would count as
a second transaction (producers are idempotent, so their retries never resend).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from fraudstream.messages import DeadLetter, decode
from fraudstream.streaming import testkit
from fraudstream.streaming.testkit import Tx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CARD = "4000000000000077"
KAFKA_LIMIT = 1_048_588  # the broker's default max.message.bytes
DEAD_LETTER_LIMIT = 6 * 64 * 1024 + 4096  # 64 Ki characters, each at worst a 6-byte JSON escape, + envelope


def _raw(tid: str, cc_num: str, at: datetime, amount: float = 5.0) -> bytes:
    when = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return json.dumps({"tid": tid, "cc_num": cc_num, "amount": amount, "trans_time": when}).encode()


@pytest.fixture(scope="module")
def bad_run(settings, kafka_bootstrap, flink_rest):
    from confluent_kafka import Producer

    from fraudstream.kafka_clients import producer_config
    from fraudstream.streaming.submit import job_status

    run = testkit.job_settings(settings, "badinput")
    now = datetime.now(UTC).replace(microsecond=0)
    first = Tx("good-1", CARD, 10.0, now)
    escaped = b'{"tid": "esc", "cc_num": "' + b'\\"' * ((KAFKA_LIMIT - 2_000) // 2) + b'"}'
    bad = {
        "huge-field": _raw("huge", "9" * 1_000_000, now),
        "escapes": escaped,
        "not-utf8": _raw("bytes-XX", CARD, now).replace(b"XX", b"\xff\xfe"),
    }
    items: list[tuple[bytes, bytes]] = [
        (CARD.encode(), first.encode()),
        *((CARD.encode(), value) for value in bad.values()),
        (b"\xff\xfe\x80", _raw("odd-key", CARD, now + timedelta(seconds=1), 20.0)),
        (CARD.encode(), first.encode()),  # duplicate tid: an identical copy of good-1, behind odd-key
        (CARD.encode(), _raw("good-2", CARD, now + timedelta(seconds=2), 30.0)),
    ]
    names = [None, *bad, None, "duplicate", None]  # the bad records by their place in ``items``
    offsets: dict[str, int] = {}
    with testkit.running_job(run):
        producer = Producer({**producer_config(run), "message.max.bytes": 2_000_000})
        for name, (key, value) in zip(names, items, strict=True):
            # the clock's heartbeats share the partition: the offset is known once delivered
            on_delivery = (lambda err, msg, name=name: offsets.__setitem__(name, msg.offset())) if name else None
            producer.produce(run.topic_transactions, key=key, value=value, partition=0, on_delivery=on_delivery)
        assert producer.flush(30) == 0
        agg = testkit.consume(run, run.topic_agg, testkit.has_tids(["good-1", "odd-key", "good-2"]), timeout=120)
        # good-2 came after every bad record: their dead letters are out by now, or soon (the late one)
        until = time.monotonic() + 30
        dead = testkit.consume(run, run.topic_dead_letter, lambda r: len(r) >= len(offsets) or time.monotonic() > until)
        status = job_status(run) or {}
    return offsets, agg, dead, status


def test_each_bad_record_has_one_small_dead_letter_with_its_reason(bad_run) -> None:
    bad, _, dead, _ = bad_run
    letters = {letter.offset: letter for letter in (decode(DeadLetter, r["value"]) for r in dead)}
    assert sorted(letters) == sorted(bad.values()), ({o: letter.error[:90] for o, letter in letters.items()}, bad)
    reasons = {name: letters[offset].error for name, offset in bad.items()}
    assert reasons["huge-field"].startswith("cc_num:") and "payload truncated" in reasons["huge-field"]
    assert reasons["escapes"].startswith("cc_num:") and "payload truncated" in reasons["escapes"]
    assert reasons["not-utf8"].startswith("<record>: not valid UTF-8")
    assert reasons["duplicate"].startswith("late for card 4000000000000077: trans_time ")
    assert all(len(json.dumps(r["value"])) < DEAD_LETTER_LIMIT for r in dead)


def test_the_job_keeps_running_and_good_records_are_exact(bad_run) -> None:
    _, agg, _, status = bad_run
    assert status.get("state") == "RUNNING", status
    records = testkit.by_tid(agg)
    assert [r["num_trans_last_10m"] for r in records["good-1"]] == [1]  # the duplicate made no second record
    assert [r["num_trans_last_10m"] for r in records["odd-key"]] == [2]  # the non-UTF-8 key is not read
    assert records["odd-key"][0]["cc_num"] == CARD
    assert [(r["num_trans_last_10m"], r["max_amt_last_10m"]) for r in records["good-2"]] == [(3, 30.0)]
