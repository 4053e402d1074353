"""Planning a replay (cards, tids, event times) and the report's table and summary (no engines)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from fraudstream.replay.plan import plan_scenario
from fraudstream.replay.report import build_rows, percentile, render_table, summarize, write_json, write_png
from fraudstream.replay.runner import Outcome, RunStats, history_as_of
from fraudstream.replay.scenarios import builtin_scenario

BASE = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_plan_gives_fresh_distinct_cards_and_unique_tids() -> None:
    scenario = builtin_scenario("seed-article")
    one = plan_scenario(scenario, BASE, rng=random.Random(1))
    two = plan_scenario(scenario, BASE, rng=random.Random(2))
    assert len(set(one.card_numbers.values())) == 4
    assert all(len(n) == 16 and n.isdigit() for n in one.card_numbers.values())
    assert set(one.card_numbers.values()).isdisjoint(two.card_numbers.values()), "a re-run must not reuse cards"
    assert len({t.tid for t in one.transactions}) == 13
    assert {h.alias for h in one.histories} == {"shopper-1", "shopper-2", "shopper-3", "victim"}


def test_plan_event_times_and_pacing() -> None:
    scenario = builtin_scenario("seed-article")
    realtime = plan_scenario(scenario, BASE, "realtime")
    asap = plan_scenario(scenario, BASE, "asap")
    for tx, planned in zip(scenario.transactions, realtime.transactions, strict=True):
        assert planned.event_time == BASE + timedelta(seconds=tx.at)
        assert planned.send_offset_s == tx.at
    assert all(t.send_offset_s == 0 for t in asap.transactions)
    assert [t.expected_count for t in realtime.transactions if t.role == "attack"] == list(range(1, 11))
    assert history_as_of(realtime) == BASE.replace(hour=0)


def test_explicit_card_numbers_are_kept() -> None:
    from fraudstream.replay.scenario_file import scenario_from_dict

    sc = scenario_from_dict(
        {
            "name": "k",
            "cards": [{"alias": "a", "cc_num": "4111111111111111"}],
            "transactions": [{"card": "a", "amount": 1, "at": 0}],
        }
    )
    assert plan_scenario(sc, BASE).transactions[0].cc_num == "4111111111111111"


def _outcomes(flags: list[bool | None]) -> list[Outcome]:
    """Outcomes of the seed plan with the given decisions (None = no prediction)."""
    plan = plan_scenario(builtin_scenario("seed-article"), BASE)
    outcomes = []
    for planned, flag in zip(plan.transactions, flags, strict=True):
        o = Outcome(planned, sent_at=1000.0 + planned.index)
        if flag is not None:
            o.prediction = {
                "tid": planned.tid,
                "num_trans_last_10m": planned.expected_count,
                "avg_amt_last_10m": planned.amount,
                "num_trans_last_1w": 25,
                "avg_amt_last_1w": 600.0,
                "amt_ratio1": 0.1,
                "amt_ratio2": 0.2,
                "count_ratio": planned.expected_count / 25,
                "fraud_probability": 0.9 if flag else 0.1,
                "is_fraud": flag,
                "threshold": 0.5,
                "model_version": "v1",
            }
            o.received_at = o.sent_at + 1.2 + planned.index / 100
        outcomes.append(o)
    return outcomes


def test_summary_counts_flags_first_flag_false_positives_and_missing() -> None:
    flags = [False, True, False] + [False, False, True, True, True, True, True, True, True, None]
    rows = build_rows(_outcomes(flags))
    stats = RunStats(started_at=999.0, first_sent_at=1000.0, last_received_at=1014.0)
    s = summarize("seed-article", rows, stats)
    assert (s.transactions, s.predicted, s.missing) == (13, 12, 1)
    assert (s.attack_transactions, s.attack_flagged, s.first_flagged_attack) == (10, 7, 3)
    assert (s.normal_transactions, s.false_positives) == (3, 1)
    assert s.counts_match_expected is True
    assert not s.ok
    assert s.model_version == "v1" and s.threshold == 0.5
    assert s.latency_ms_p50 is not None and 1200 <= s.latency_ms_p50 <= 1400
    assert s.throughput_per_s == round(12 / 14, 1)


def test_summary_notices_lagging_counts() -> None:
    outcomes = _outcomes([False] * 13)
    outcomes[5].prediction["num_trans_last_10m"] = 1  # the scorer saw a stale count
    s = summarize("seed-article", build_rows(outcomes))
    assert s.counts_match_expected is False
    assert s.first_flagged_attack is None and s.attack_flagged == 0 and s.ok


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5.0], 99) == 5.0


def test_report_files_and_table(tmp_path) -> None:
    from rich.console import Console

    rows = build_rows(_outcomes([False, False, False] + [True] * 9 + [None]))
    summary = summarize("seed-article", rows)
    path = write_json(tmp_path / "r.json", {"summary": summary.__dict__, "transactions": [r.__dict__ for r in rows]})
    assert json.loads(path.read_text())["summary"]["attack_flagged"] == 9
    png = write_png(tmp_path / "r.png", summary, rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    console = Console(record=True, width=200)
    render_table(summary, rows, console)
    text = console.export_text()
    assert "MISSING" in text and "NOT FRAUD" in text and "flagged 9 of 10" in text


def test_cli_rejects_bad_arguments(tmp_path) -> None:
    from fraudstream.cli.main import app

    runner = CliRunner()
    assert runner.invoke(app, ["replay"]).exit_code == 2
    assert runner.invoke(app, ["replay", "--scenario", "burst", "--file", "x.yaml"]).exit_code == 2
    unknown = runner.invoke(app, ["replay", "--scenario", "nope"])
    assert unknown.exit_code == 2 and "seed-article" in unknown.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncards: []\ntransactions: []\n")
    result = runner.invoke(app, ["replay", "--file", str(bad)])
    assert result.exit_code == 2 and "invalid scenario" in result.output
    listed = runner.invoke(app, ["replay", "--list"])
    assert listed.exit_code == 0 and "slow-drip" in listed.output
