"""The cc-agg job on a real Flink cluster and a real Kafka broker, with a stream clock: one job run.

Each scenario uses its own cards, so they share one job (a Flink job start is the expensive part):
submit → at once, in one burst: a 20,000-transaction time-sorted backlog over four days and four
partitions, the seed example, the 10-minute bounds, peers with the same time, a pair out of order
within the allowed delay, a card whose row is out of order beyond it, malformed records → stop with
a savepoint → a second backlog produced while stopped (the job restarts with lag) → resume → a lone
transaction on a quiet topic.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.submit import job_status, stop_job, submit_job
from fraudstream.streaming.testkit import Tx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = datetime(2020, 3, 1, tzinfo=UTC)
T22 = BASE.replace(hour=22)
SEED_CARD = "4444333322221248"
EXACT_CARD, PAST_CARD, PEER_CARD = "1111000000000001", "1111000000000002", "1111000000000003"
LATE_CARD, WITHIN_CARD, QUIET_CARD = "1111000000000004", "1111000000000005", "1111000000000006"
ALLOWED_DELAY_MS = 500
BACKLOG = 20_000
MALFORMED: list[bytes | None] = [
    b"not json at all",
    b'{"tid": "bad-cc", "cc_num": "12", "amount": 5.0, "trans_time": "2020-03-01T22:00:00.000Z"}',
    b'{"tid": "bad-time", "cc_num": "1111000000000009", "amount": 5.0, "trans_time": "yesterday"}',
    b'{"tid": "bad-amount", "cc_num": "1111000000000009", "amount": "lots", "trans_time": "2020-03-01T22:00:00.000Z"}',
    b'{"cc_num": "1111000000000009", "amount": 5.0, "trans_time": "2020-03-01T22:00:00.000Z"}',
]


def backlog(rng: random.Random, start: datetime, n: int, cards: list[str], prefix: str) -> list[Tx]:
    """``n`` time-sorted transactions over four days on ``cards`` (keyed by card: all partitions);
    two in three have a merchant (of 50), the others none."""
    times = sorted(rng.uniform(0, 4 * 86400) for _ in range(n))
    merchants = [None, *(f"m-{k}" for k in range(50))]
    return [
        Tx(
            f"{prefix}-{i}",
            rng.choice(cards),
            round(rng.uniform(1, 900), 2),
            start + timedelta(seconds=t),
            merchant=rng.choice(merchants) if i % 3 else None,
        )
        for i, t in enumerate(times)
    ]


def special_rows() -> tuple[list[Tx], list[Tx], Tx]:
    """(rows in time order, the same rows in send order, the late row) for the edge cases."""
    rows = [*testkit.seed_example(BASE, SEED_CARD)]
    rows += [Tx("exact-0", EXACT_CARD, 10.0, T22), Tx("exact-1", EXACT_CARD, 30.0, T22 + timedelta(minutes=10))]
    just_past = T22 + timedelta(minutes=10, milliseconds=1)
    rows += [Tx("past-0", PAST_CARD, 10.0, T22), Tx("past-1", PAST_CARD, 30.0, just_past)]
    peer_t = T22 + timedelta(minutes=3)
    rows += [Tx("peer-0", PEER_CARD, 5.0, peer_t), Tx("peer-1", PEER_CARD, 7.0, peer_t)]
    rows += [Tx("peer-2", PEER_CARD, 9.0, peer_t + timedelta(minutes=1))]
    rows += [Tx("late-0", LATE_CARD, 10.0, T22), Tx("late-1", LATE_CARD, 20.0, T22 + timedelta(minutes=10))]
    rows += [Tx("late-3", LATE_CARD, 40.0, T22 + timedelta(minutes=11))]
    late = Tx("late-2", LATE_CARD, 99.0, T22 + timedelta(minutes=1))  # 9 min before the card's newest
    within_a = Tx("within-a", WITHIN_CARD, 3.0, T22 + timedelta(minutes=20))
    within_b = Tx("within-b", WITHIN_CARD, 4.0, T22 + timedelta(minutes=20, milliseconds=300))
    send = sorted(rows, key=lambda r: r.trans_time) + [within_b, within_a]  # 300 ms out of order < 500 allowed
    rows += [within_a, within_b]
    late_index = next(i for i, r in enumerate(send) if r.tid == "late-1") + 1
    send.insert(late_index, late)  # right after the card's newer row: out of order by 9 minutes
    return sorted(rows, key=lambda r: r.trans_time), send, late


def agg_values(rec: dict[str, Any]) -> tuple[int, float, float]:
    return (rec["num_trans_last_10m"], rec["avg_amt_last_10m"], rec["max_amt_last_10m"])


def wait_for_status(settings: Settings, ready: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status = job_status(settings) or {}
    while not ready(status) and time.monotonic() < deadline:
        time.sleep(2)
        status = job_status(settings) or {}
    return status


@pytest.fixture(scope="module")
def job_run(settings: Settings, kafka_bootstrap: str, flink_rest: str) -> dict[str, Any]:
    """Run the whole scenario once and return what came out."""
    run = testkit.job_settings(
        settings, "flink", flink_checkpoint_interval_ms=2_000, flink_watermark_delay_ms=ALLOWED_DELAY_MS, partitions=4
    )
    rng = random.Random(11)
    cards = [f"22{rng.randrange(10**14):014d}" for _ in range(300)]
    phase1 = backlog(rng, BASE + timedelta(days=2), BACKLOG, cards, "bk1")
    rows, send, late = special_rows()
    out: dict[str, Any] = {"settings": run, "phase1": phase1 + rows, "late": late}
    with testkit.running_job(run) as (job_id, _clock):
        out["job_id"], out["again"] = job_id, submit_job(run)
        t0 = time.monotonic()
        testkit.produce(run, send + phase1)  # right after submit, one burst, no priming
        testkit.produce_raw(run, MALFORMED, partition=1)
        tids1 = [r.tid for r in phase1 + rows]
        out["agg1_raw"] = testkit.consume(run, run.topic_agg, testkit.has_tids(tids1), timeout=300)
        out["backlog_s"] = time.monotonic() - t0
        out["dead1"] = testkit.consume(run, run.topic_dead_letter, lambda recs: len(recs) >= len(MALFORMED) + 1)
        out["status1"] = wait_for_status(run, lambda s: s.get("late_records", 0) >= 1 and s.get("dead_letters", 0) >= 5)

        stopped = stop_job(run, savepoint=True)
        phase2_start = max(r.trans_time for r in phase1)  # continues the same cards' timelines
        phase2 = [r for r in backlog(rng, phase2_start, 5_000, cards, "bk2") if r.trans_time > phase2_start]
        testkit.produce(run, phase2)  # produced while the job is down: it restarts with lag
        out["resumed_id"] = submit_job(run, from_savepoint=stopped["savepoint"])
        out["phase2"] = phase2
        agg_all = testkit.consume(run, run.topic_agg, testkit.has_tids(tids1 + [r.tid for r in phase2]), timeout=300)
        out["agg_all_raw"] = agg_all
        out["stopped"] = stopped

        quiet = Tx("quiet-0", QUIET_CARD, 42.0, datetime.now(UTC))
        t_quiet = time.monotonic()
        testkit.produce(run, [quiet])  # nothing else is sent: only the clock's heartbeats
        quiet_recs = testkit.consume(run, run.topic_agg, testkit.has_tids([quiet.tid]), timeout=30)
        out["quiet_s"] = time.monotonic() - t_quiet
        out["quiet"] = testkit.by_tid(quiet_recs)[quiet.tid][0]
    out["agg_all"] = testkit.by_tid(out["agg_all_raw"])
    out["agg1"] = testkit.by_tid(out["agg1_raw"])
    return out


def test_submit_is_idempotent(job_run):
    assert job_run["again"] == job_run["job_id"]
    assert job_run["resumed_id"] != job_run["job_id"]


def test_burst_backlog_right_after_submit_is_complete_and_exact(job_run):
    """Every tid of a 20,000-row time-sorted backlog over 4 partitions: features equal the definition."""
    expected = testkit.reference_features(job_run["phase1"])
    agg = job_run["agg1"]
    assert len(expected) >= BACKLOG
    mismatches = {t: (agg_values(agg[t][0]), e) for t, e in expected.items() if agg_values(agg[t][0]) != e}
    assert not mismatches, f"{len(mismatches)} of {len(expected)} differ, e.g. {list(mismatches.items())[:3]}"
    assert max(e[0] for e in expected.values()) >= 3  # the backlog exercises the window


def test_seed_worked_example(job_run):
    agg = job_run["agg1"]
    got = [agg_values(agg[f"seed-{i}"][0]) for i in range(1, 5)]
    assert [g[0] for g in got] == [1, 2, 3, 4]
    assert [g[1] for g in got] == [50.0, 125.0, 100.0, 200.0]
    assert [g[2] for g in got] == [50.0, 200.0, 200.0, 500.0]


def test_ten_minute_bound_is_inclusive(job_run):
    agg = job_run["agg1"]
    assert agg_values(agg["exact-1"][0])[:2] == (2, 20.0)
    assert agg_values(agg["past-1"][0])[:2] == (1, 30.0)


def test_peers_with_the_same_time_count_each_other(job_run):
    agg = job_run["agg1"]
    assert agg_values(agg["peer-0"][0]) == agg_values(agg["peer-1"][0]) == (2, 6.0, 7.0)
    assert agg_values(agg["peer-2"][0]) == (3, 7.0, 9.0)


def test_out_of_order_within_the_allowed_delay_is_exact(job_run):
    agg = job_run["agg1"]
    assert agg_values(agg["within-a"][0]) == (1, 3.0, 3.0)
    assert agg_values(agg["within-b"][0]) == (2, 3.5, 4.0)


def test_late_for_its_card_is_dead_lettered_with_a_per_card_reason_and_counted(job_run):
    late = [r["value"] for r in job_run["dead1"] if r["value"]["error"].startswith("late")]
    assert len(late) == 1
    error = late[0]["error"]
    assert error.startswith(f"late for card {LATE_CARD}: trans_time 2020-03-01T22:01:00.000Z of tid late-2")
    assert "2020-03-01T22:10:00.000Z" in error and f"{ALLOWED_DELAY_MS} ms" in error
    assert json.loads(late[0]["payload"])["tid"] == "late-2"
    assert "late-2" not in job_run["agg_all"]
    # the card's later row is computed without the late one; the other cards are untouched
    assert agg_values(job_run["agg1"]["late-3"][0]) == (2, 30.0, 40.0)


def test_status_counts_match_the_dead_letter_topic(job_run):
    status = job_run["status1"]
    dead = [r["value"] for r in job_run["dead1"]]
    assert status["late_records"] == sum(d["error"].startswith("late for card") for d in dead) == 1
    assert status["dead_letters"] == sum(not d["error"].startswith("late for card") for d in dead) == len(MALFORMED)


def test_malformed_records_go_to_dead_letter_and_job_keeps_running(job_run):
    dead = [r["value"] for r in job_run["dead1"] if not r["value"]["error"].startswith("late")]
    payloads = {d["payload"]: d for d in dead}
    assert set(payloads) == {m.decode() for m in MALFORMED if m is not None}
    assert payloads["not json at all"]["error"].startswith("<record>: not valid JSON")
    assert payloads[MALFORMED[1].decode()]["error"].startswith("cc_num:")
    assert payloads[MALFORMED[2].decode()]["error"].startswith("trans_time:")
    assert payloads[MALFORMED[3].decode()]["error"].startswith("amount:")
    assert payloads[MALFORMED[4].decode()]["error"] == "tid: missing"
    for d in dead:
        assert d["partition"] == 1 and d["offset"] >= 0 and d["stage"] == "flink-cc-agg"
    assert job_run["status1"]["state"] == "RUNNING"


def test_heartbeats_never_reach_cc_agg(job_run):
    sent = {r.tid for r in job_run["phase1"] + job_run["phase2"]}
    got = {rec["value"]["tid"] for rec in job_run["agg_all_raw"]}
    assert got <= sent
    assert all(rec["key"] != "__clock__" for rec in job_run["agg_all_raw"])


def test_restart_with_lag_from_a_savepoint_loses_nothing_and_stays_exact(job_run):
    assert job_run["stopped"]["savepoint"]
    agg = job_run["agg_all"]
    all_rows = job_run["phase1"] + job_run["phase2"]
    expected = testkit.reference_features(all_rows)
    for row in all_rows:
        copies = agg[row.tid]
        assert copies and all(c == copies[0] for c in copies), row.tid  # duplicates only as identical copies
    phase2 = {r.tid for r in job_run["phase2"]}
    assert len(phase2) > 1000
    mismatches = [t for t in phase2 if agg_values(agg[t][0]) != expected[t]]
    assert not mismatches, f"{len(mismatches)} phase-2 rows differ"
    # phase 2 continues phase 1's timelines: restored card state is used
    assert any(agg_values(agg[t][0])[0] > 1 for t in phase2)


def test_a_lone_transaction_on_a_quiet_topic_is_not_held_back(job_run):
    """Only the clock beats: the transaction still gets its record (seconds, not 'when traffic comes')."""
    assert job_run["quiet_s"] < 30
    assert agg_values(job_run["quiet"]) == (1, 42.0, 42.0)


def test_every_record_carries_its_transactions_merchant_or_none(job_run):
    """``merchant`` goes through the window function's state (also across the savepoint) unchanged."""
    sent = {r.tid: r.merchant for r in job_run["phase1"] + job_run["phase2"]}
    got = {tid: [value.get("merchant") for value in values] for tid, values in job_run["agg_all"].items()}
    assert sum(m is not None for m in sent.values()) > 10_000
    assert {tid: set(got[tid]) for tid in sent} == {tid: {m} for tid, m in sent.items()}
    assert not any(
        "merchant" in rec["value"]
        for rec in job_run["agg_all_raw"]
        if rec["value"]["tid"] in sent and sent[rec["value"]["tid"]] is None
    )  # no merchant: no key (not null), as encode writes it


def test_output_records_have_the_message_shape_and_key(job_run):
    from fraudstream.messages import CardAggregate, decode, encode

    for rec in job_run["agg_all_raw"][:2000]:
        value = rec["value"]
        assert rec["key"] == value["cc_num"]
        model = decode(CardAggregate, json.dumps(value))
        assert json.loads(encode(model)) == value
        assert value["trans_time"].endswith("Z") and len(value["trans_time"]) == len("2020-01-01T00:00:05.123Z")
