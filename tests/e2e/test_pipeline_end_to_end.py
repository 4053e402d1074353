"""The demo's pipeline in reduced size, on real engines: transactions in → one prediction each out,
and the seed article's attack scenario replayed through Flink, the fraud-scorer and the endpoint.

One module-scoped pipeline (topics and tables of its own, the Flink job, both handler runners as
the demo's managed background processes) is shared by the assertions below.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIVE_TRANSACTIONS = 1_500


@pytest.fixture(scope="module")
def pipeline_settings(
    settings: Settings,
    kafka_bootstrap: str,
    dynamodb_endpoint: str,
    flink_rest: str,
    trained_model_dir: Path,
    endpoint_url: str,
) -> Iterator[Settings]:
    """Settings with topics and tables of this module, the trained model and its endpoint; the job and
    both handler runners running against them."""
    from fraudstream.testing.engines import isolated_copy
    from fraudstream.testing.pipeline import running_pipeline

    s = isolated_copy(
        settings,
        f"e2e-{uuid.uuid4().hex[:8]}",
        model_dir=trained_model_dir,
        endpoint_url_override=endpoint_url,
    )
    with running_pipeline(s):  # the stack's clock service in-process, the job, both handler runners
        yield s


@pytest.fixture(scope="module")
def live_result(pipeline_settings: Settings, small_transactions_path: Path):
    """The tail of the small generated data, re-timed to now and sent as fast as possible."""
    from datetime import UTC, datetime

    from fraudstream.demo.live import fit_slice, plan_live_slice, read_tail
    from fraudstream.replay.report import build_rows, summarize
    from fraudstream.replay.runner import latest_event_time, run_plan

    frame, start = fit_slice(
        read_tail(small_transactions_path, LIVE_TRANSACTIONS), datetime.now(UTC), latest_event_time(pipeline_settings)
    )
    plan = plan_live_slice(frame, start, rate_per_s=0)
    outcomes, stats = run_plan(plan, pipeline_settings, timeout_s=90, seed_history=False)
    return plan, outcomes, summarize("live", build_rows(outcomes), stats)


@pytest.fixture(scope="module")
def seed_result(pipeline_settings: Settings, live_result):
    """The seed article's scenario, replayed after the live traffic (as the demo does)."""
    from fraudstream.replay.scenarios import builtin_scenario
    from fraudstream.replay.service import replay_scenario

    return replay_scenario(builtin_scenario("seed-article"), pipeline_settings, timeout_s=60)


def test_every_live_transaction_gets_exactly_its_prediction(live_result) -> None:
    plan, outcomes, summary = live_result
    assert summary.missing == 0, f"{summary.missing} of {summary.transactions} transactions got no prediction"
    for outcome in outcomes:
        assert outcome.prediction["tid"] == outcome.planned.tid
        assert outcome.prediction["cc_num"] == outcome.planned.cc_num
        assert outcome.prediction["amount"] == pytest.approx(outcome.planned.amount)
        assert 0.0 <= outcome.prediction["fraud_probability"] <= 1.0
        assert outcome.prediction["num_trans_last_10m"] >= 1
    assert summary.predicted == len(plan.transactions) == LIVE_TRANSACTIONS


def test_live_ten_minute_counts_match_an_exact_recount(live_result) -> None:
    """The counts the scorer saw equal a brute-force recount of the slice (nothing lagged, nothing lost)."""
    from datetime import timedelta

    plan, outcomes, _ = live_result
    by_card: dict[str, list] = {}
    for t in plan.transactions:
        by_card.setdefault(t.cc_num, []).append(t.event_time)
    window = timedelta(minutes=10)
    for outcome in outcomes:
        t = outcome.planned
        exact = sum(1 for other in by_card[t.cc_num] if t.event_time - window <= other <= t.event_time)
        assert outcome.prediction["num_trans_last_10m"] == exact, t.tid


def test_seed_scenario_every_transaction_predicted(seed_result) -> None:
    assert seed_result.summary.missing == 0
    assert seed_result.summary.ok


def test_seed_scenario_scorer_counts_are_exactly_one_to_ten(seed_result) -> None:
    attack = [r for r in seed_result.rows if r.role == "attack"]
    assert [r.num_trans_last_10m for r in attack] == list(range(1, 11))
    assert [r.num_trans_last_10m for r in seed_result.rows if r.role == "normal"] == [1, 1, 1]
    assert seed_result.summary.counts_match_expected is True


def test_seed_scenario_ratios_use_the_seeded_week(seed_result) -> None:
    from fraudstream.replay.scenarios import builtin_scenario

    weeks = {c.alias: c for c in builtin_scenario("seed-article").cards}
    for row in seed_result.rows:
        card = weeks[row.card]
        assert row.num_trans_last_1w == card.num_trans_last_1w
        assert row.count_ratio == pytest.approx(row.num_trans_last_10m / card.num_trans_last_1w)
        assert row.amt_ratio2 == pytest.approx(row.amount / card.avg_amt_last_1w)


def test_seed_scenario_acceptance(seed_result) -> None:
    """No false positive on the three ordinary transactions, ≥ 7 of 10 attack flagged, the first by the 4th."""
    s = seed_result.summary
    table = [(r.card, r.num_trans_last_10m, r.fraud_probability, r.is_fraud) for r in seed_result.rows]
    assert s.false_positives == 0, table
    assert s.attack_flagged >= 7, table
    assert s.first_flagged_attack is not None and s.first_flagged_attack <= 4, table


def test_replay_report_files(seed_result, tmp_path) -> None:
    import json

    json_path, png_path = seed_result.write(tmp_path / "seed.json")
    document = json.loads(json_path.read_text())
    assert document["summary"]["attack_transactions"] == 10
    assert len(document["transactions"]) == 13
    assert png_path.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def quiet_result(pipeline_settings: Settings, seed_result):
    """After everything else: one transaction on a fresh card, nothing else sent (only the clock beats)."""
    from fraudstream.replay.scenario_file import scenario_from_dict
    from fraudstream.replay.service import replay_scenario

    scenario = scenario_from_dict(
        {
            "name": "lone",
            "cards": [{"alias": "lone", "num_trans_last_1w": 20, "avg_amt_last_1w": 80.0}],
            "transactions": [{"card": "lone", "amount": 35.0, "at": 0}],
        }
    )
    return replay_scenario(scenario, pipeline_settings, timeout_s=30)


def test_a_lone_transaction_on_a_quiet_system_gets_its_prediction(quiet_result) -> None:
    assert quiet_result.summary.missing == 0
    row = quiet_result.rows[0]
    assert row.num_trans_last_10m == 1 and row.latency_ms is not None


def test_heartbeats_never_reach_predictions(
    pipeline_settings: Settings, live_result, seed_result, quiet_result
) -> None:
    """Every record on ``predictions`` is a transaction that was sent; no heartbeat became one."""
    from fraudstream.streaming import testkit

    sent = {o.planned.tid for o in live_result[1]} | {r.tid for r in seed_result.rows} | {quiet_result.rows[0].tid}
    topic = pipeline_settings.topic_predictions
    records = testkit.consume(pipeline_settings, topic, testkit.has_tids(sent), timeout=60)
    got = {r["value"]["tid"] for r in records if r["value"]}
    assert got == sent
