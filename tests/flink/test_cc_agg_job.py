"""The cc-agg job on a real Flink cluster and a real Kafka broker: one job run, several scenarios.

Each scenario uses its own card, so they share one job (a Flink job start is the expensive part):
submit → prime every partition (see ``testkit.prime``) → phase 1 (seed example, 10-minute bounds,
multi-partition out-of-order, malformed records) → flush → a late record → stop with savepoint →
phase 2 (one partition) → resume → flush.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudstream.kafka_clients import ensure_topics
from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.submit import job_config, job_status, stop_job, submit_job
from fraudstream.streaming.testkit import FLUSH_CARD, Tx

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = datetime(2020, 3, 1, tzinfo=UTC)
T22 = BASE.replace(hour=22)
SEED_CARD = "4444333322221248"
EXACT_CARD, PAST_CARD, SPREAD_CARD = "1111000000000001", "1111000000000002", "1111000000000003"
LATE_CARD = "1111000000000004"
FLUSH_1 = BASE.replace(hour=23)
FLUSH_2 = BASE + timedelta(days=1)
MALFORMED: list[bytes | None] = [
    b"not json at all",
    b'{"tid": "bad-cc", "cc_num": "12", "amount": 5.0, "trans_time": "2020-03-01T22:00:00.000Z"}',
    b'{"tid": "bad-time", "cc_num": "1111000000000009", "amount": 5.0, "trans_time": "yesterday"}',
    b'{"tid": "bad-amount", "cc_num": "1111000000000009", "amount": "lots", "trans_time": "2020-03-01T22:00:00.000Z"}',
    b'{"cc_num": "1111000000000009", "amount": 5.0, "trans_time": "2020-03-01T22:00:00.000Z"}',
]


def interleaved_noise(rng: random.Random) -> list[Tx]:
    """Other cards active in the same minutes as the seed card."""
    rows = []
    for i in range(40):
        card = f"22220000000000{i % 5:02d}"
        rows.append(Tx(f"noise-{i}", card, round(rng.uniform(1, 900), 2), T22 + timedelta(seconds=9 * i + 3)))
    return rows


def boundary_rows() -> list[Tx]:
    """Exactly 10 min apart (still in the window) and 10 min + 1 ms apart (not)."""
    return [
        Tx("exact-0", EXACT_CARD, 10.0, T22),
        Tx("exact-1", EXACT_CARD, 30.0, T22 + timedelta(minutes=10)),
        Tx("past-0", PAST_CARD, 10.0, T22),
        Tx("past-1", PAST_CARD, 30.0, T22 + timedelta(minutes=10, milliseconds=1)),
    ]


def spread_rows(partitions: int) -> list[Tx]:
    """One card over every partition, in time order; pairs (2k, 2k+1) share a partition, 300 ms apart."""
    times = []
    t = T22
    for i in range(24):
        t += timedelta(milliseconds=300) if i % 2 else timedelta(seconds=40)
        times.append(t)
    return [Tx(f"spread-{i}", SPREAD_CARD, 7.5 + i, ts, partition=(i // 2) % partitions) for i, ts in enumerate(times)]


def send_order(rows: list[Tx]) -> list[Tx]:
    """Time order, except each spread pair is sent reversed (out of order by 300 ms < the 1 s delay)."""
    ordered = sorted(rows, key=lambda r: r.trans_time)
    where = {r.tid: i for i, r in enumerate(ordered)}
    for k in range(0, sum(r.tid.startswith("spread-") for r in rows), 2):
        a, b = where[f"spread-{k}"], where[f"spread-{k + 1}"]
        ordered[a], ordered[b] = ordered[b], ordered[a]
    return ordered


def phase2_rows() -> list[Tx]:
    start = FLUSH_1 + timedelta(minutes=30)
    rows = [Tx(f"p2-seed-{i}", SEED_CARD, 10.0 * (i + 1), start + timedelta(minutes=i), 0) for i in range(6)]
    rows += [Tx(f"p2-spread-{i}", SPREAD_CARD, 3.25, start + timedelta(seconds=50 * i), 0) for i in range(6)]
    return sorted(rows, key=lambda r: r.trans_time)


def wait_for_status(settings: Settings, ready: Any, timeout: float = 40.0) -> dict[str, Any]:
    """``job_status`` once ``ready(status)`` holds (REST metrics refresh every few seconds)."""
    deadline = time.monotonic() + timeout
    status = job_status(settings) or {}
    while not ready(status) and time.monotonic() < deadline:
        time.sleep(2)
        status = job_status(settings) or {}
    return status


def agg_values(rec: dict[str, Any]) -> tuple[int, float, float]:
    return (rec["num_trans_last_10m"], rec["avg_amt_last_10m"], rec["max_amt_last_10m"])


@pytest.fixture(scope="module")
def job_run(settings: Settings, kafka_bootstrap: str, flink_rest: str) -> dict[str, Any]:
    """Run the whole scenario once and return what came out."""
    suffix = datetime.now(UTC).strftime("%H%M%S%f")
    run = settings.model_copy(
        update={
            "topic_transactions": f"tx-flink-{suffix}",
            "topic_agg": f"agg-flink-{suffix}",
            "topic_dead_letter": f"dl-flink-{suffix}",
            # the test controls the watermark with flush records; a long idle timeout keeps a partition
            # whose first fetch is slow at job start from being skipped (its rows would then be late)
            "flink_idle_timeout_ms": 120_000,
            "flink_checkpoint_interval_ms": 2_000,
            "partitions": 4,
        }
    )
    ensure_topics(run, topics=(run.topic_transactions, run.topic_agg, run.topic_dead_letter))
    group = job_config(run).group_id
    job_id = submit_job(run)
    again = submit_job(run)
    testkit.prime(run, group, T22 - timedelta(hours=1))

    rng = random.Random(11)
    phase1 = [*testkit.seed_example(BASE, SEED_CARD), *interleaved_noise(rng), *boundary_rows()]
    phase1.sort(key=lambda r: r.trans_time)
    spread = spread_rows(run.partitions)
    testkit.produce(run, send_order(phase1 + spread))
    testkit.produce_raw(run, MALFORMED, partition=1)
    testkit.produce(run, testkit.flush_rows(run, FLUSH_1))
    phase1_tids = [r.tid for r in phase1 + spread]
    agg1 = testkit.consume(run, run.topic_agg, testkit.has_tids(phase1_tids))
    dead1 = testkit.consume(run, run.topic_dead_letter, lambda recs: len(recs) >= len(MALFORMED))

    late = Tx("late-1", LATE_CARD, 99.0, T22 - timedelta(hours=1))
    testkit.produce(run, [late])
    dead_late = testkit.consume(run, run.topic_dead_letter, lambda recs: len(recs) >= len(MALFORMED) + 1)
    status_running = wait_for_status(run, lambda s: s.get("late_records", 0) >= 1)

    stopped = stop_job(run, savepoint=True)
    phase2 = phase2_rows()  # produced while the job is stopped, on one partition (see testkit.prime)
    testkit.produce(run, phase2)
    resumed_id = submit_job(run, from_savepoint=stopped["savepoint"])
    testkit.wait_consumed(run, group)
    testkit.produce(run, testkit.flush_rows(run, FLUSH_2))
    agg_all = testkit.consume(run, run.topic_agg, testkit.has_tids(phase1_tids + [r.tid for r in phase2]))
    final_status = wait_for_status(run, lambda s: s.get("records_in", 0) >= len(phase2))
    stop_job(run)
    return {
        "settings": run,
        "job_id": job_id,
        "again": again,
        "resumed_id": resumed_id,
        "phase1": phase1,
        "spread": spread,
        "phase2": phase2,
        "agg1": testkit.by_tid(agg1),
        "agg_all": testkit.by_tid(agg_all),
        "agg_all_raw": agg_all,
        "dead1": dead1,
        "dead_late": dead_late,
        "stopped": stopped,
        "status_running": status_running,
        "final_status": final_status,
    }


def test_submit_is_idempotent(job_run):
    assert job_run["again"] == job_run["job_id"]
    assert job_run["resumed_id"] != job_run["job_id"]


def test_seed_worked_example(job_run):
    agg = job_run["agg1"]
    got = [agg_values(agg[f"seed-{i}"][0]) for i in range(1, 5)]
    assert [g[0] for g in got] == [1, 2, 3, 4]
    assert [g[1] for g in got] == [50.0, 125.0, 100.0, 200.0]
    assert [g[2] for g in got] == [50.0, 200.0, 200.0, 500.0]


def test_every_phase1_row_matches_the_reference(job_run):
    expected = testkit.reference_features(job_run["phase1"])
    agg = job_run["agg1"]
    assert {tid: agg_values(agg[tid][0]) for tid in expected} == expected


def test_ten_minute_bound_is_inclusive(job_run):
    agg = job_run["agg1"]
    assert agg["exact-1"][0]["num_trans_last_10m"] == 2
    assert agg["exact-1"][0]["avg_amt_last_10m"] == 20.0
    assert agg["past-1"][0]["num_trans_last_10m"] == 1
    assert agg["past-1"][0]["avg_amt_last_10m"] == 30.0


def test_partitions_and_out_of_order_within_delay_match_in_order(job_run):
    spread = job_run["spread"]
    assert len({r.partition for r in spread}) > 1
    expected = testkit.reference_features(sorted(spread, key=lambda r: r.trans_time))
    agg = job_run["agg1"]
    assert {r.tid: agg_values(agg[r.tid][0]) for r in spread} == expected


def test_output_records_have_the_message_shape_and_key(job_run):
    from fraudstream.messages import CardAggregate, decode, encode

    for rec in job_run["agg_all_raw"]:
        value = rec["value"]
        assert rec["key"] == value["cc_num"]
        model = decode(CardAggregate, json.dumps(value))
        assert json.loads(encode(model)) == value  # same fields, same time format, same numbers
        assert value["trans_time"].endswith("Z") and len(value["trans_time"]) == len("2020-01-01T00:00:05.123Z")


def test_malformed_records_go_to_dead_letter_and_job_keeps_running(job_run):
    dead = [r["value"] for r in job_run["dead1"]]
    payloads = {d["payload"]: d for d in dead}
    assert set(payloads) == {m.decode() for m in MALFORMED if m is not None}
    assert payloads["not json at all"]["error"].startswith("<record>: not valid JSON")
    assert payloads[MALFORMED[1].decode()]["error"].startswith("cc_num:")
    assert payloads[MALFORMED[2].decode()]["error"].startswith("trans_time:")
    assert payloads[MALFORMED[3].decode()]["error"].startswith("amount:")
    assert payloads[MALFORMED[4].decode()]["error"] == "tid: missing"
    for d in dead:
        assert d["partition"] == 1 and d["offset"] >= 0 and d["stage"] == "flink-cc-agg"
        assert d["source_topic"] == job_run["settings"].topic_transactions
    assert job_run["status_running"]["state"] == "RUNNING"


def test_late_record_is_dead_lettered_and_counted(job_run):
    late = [r["value"] for r in job_run["dead_late"] if r["value"]["error"].startswith("late")]
    assert len(late) == 1 and "late-1" in late[0]["error"] and "late-1" in late[0]["payload"]
    assert "late-1" not in job_run["agg_all"]
    assert job_run["status_running"]["late_records"] == 1


def test_stop_with_savepoint_and_resume_loses_nothing_and_duplicates_agree(job_run):
    assert job_run["stopped"]["savepoint"]
    agg = job_run["agg_all"]
    all_rows = job_run["phase1"] + job_run["spread"] + job_run["phase2"]
    for row in all_rows:
        copies = agg[row.tid]
        assert copies, row.tid
        assert all(c == copies[0] for c in copies), row.tid
    expected = testkit.reference_features(all_rows)
    assert {r.tid: agg_values(agg[r.tid][0]) for r in job_run["phase2"]} == {
        r.tid: expected[r.tid] for r in job_run["phase2"]
    }
    assert FLUSH_CARD not in {r.cc_num for r in all_rows}


def test_status_reports_records_and_checkpoints(job_run):
    status = job_run["final_status"]
    assert status["state"] == "RUNNING"
    assert status["records_in"] >= len(job_run["phase2"])
    assert status["last_checkpoint"] is None or status["last_checkpoint"]["id"] >= 1
    first = job_run["status_running"]
    assert first["records_in"] >= len(job_run["phase1"]) + len(MALFORMED)
    assert first["records_out"] >= len(job_run["phase1"])
