"""The drift scenarios (``shoppers``, ``amount-drift``) and the report of a replay that long (no engines).

Through the real pipeline and the monitor: tests/monitor/test_drift_replay.py.
"""

from __future__ import annotations

import random
import time

import numpy as np
from typer.testing import CliRunner

from fraudstream.features import compute_model_inputs, model_input_names
from fraudstream.model.reference import reference_distribution
from fraudstream.monitor.drift import drift_report
from fraudstream.replay.drift_scenarios import SHOPPERS, SPAN_S, amount_drift, shoppers
from fraudstream.replay.plan import plan_scenario
from fraudstream.replay.report import TABLE_ROWS, build_rows, render_table, summarize, write_png
from fraudstream.replay.runner import Outcome
from fraudstream.replay.scenario_file import Scenario
from fraudstream.replay.scenarios import builtin_scenario, expected_window_counts

from .test_plan_and_report import BASE

NAMES = list(model_input_names("extended"))


def served_inputs(scenario: Scenario) -> dict[str, np.ndarray]:
    """The model inputs the scorer computes for the scenario (one purchase per card: the 10-minute
    window holds that purchase alone)."""
    week = {c.alias: c for c in scenario.cards}
    amount = np.array([t.amount for t in scenario.transactions])
    n1w = [week[t.card].num_trans_last_1w for t in scenario.transactions]
    avg1w = [week[t.card].avg_amt_last_1w for t in scenario.transactions]
    x = compute_model_inputs(amount, np.ones(len(amount)), amount, n1w, avg1w, amount, feature_set="extended")
    return {name: x[:, i] for i, name in enumerate(NAMES)}


def test_the_drift_is_only_in_the_amounts() -> None:
    normal, drift = builtin_scenario("shoppers"), builtin_scenario("amount-drift")
    assert len(normal.transactions) == len(drift.transactions) == len(drift.cards) == SHOPPERS
    assert normal.cards == drift.cards, "same cards, same week of history"
    assert normal.attack_count == drift.attack_count == 0
    assert [t.at for t in normal.transactions] == [t.at for t in drift.transactions]
    assert drift.duration_s < SPAN_S
    assert set(expected_window_counts(drift)) == {1}
    week = {c.alias: c.avg_amt_last_1w for c in drift.cards}
    assert all(t.amount == round(10 * week[t.card], 2) for t in drift.transactions)
    ratios = np.array([t.amount / week[t.card] for t in normal.transactions])
    assert np.median(ratios) < 1 < np.quantile(ratios, 0.9)  # ordinary: the generator's skewed buckets
    assert shoppers() == normal and shoppers(seed=1) != normal  # deterministic, and a seed changes it


def test_psi_flags_the_amount_inputs_and_not_the_counts() -> None:
    """Against a reference from other shoppers (another seed), as training stores it."""
    reference_rows = served_inputs(shoppers(cards=5000, seed=99))
    reference = reference_distribution(np.column_stack([reference_rows[n] for n in NAMES]), NAMES)
    calm = drift_report(reference, served_inputs(shoppers()))
    assert not any(d["drifted"] for d in calm.values()), calm
    normal, drift = served_inputs(shoppers()), served_inputs(amount_drift())
    both = drift_report(reference, {n: np.concatenate([normal[n], drift[n]]) for n in NAMES})
    assert {n for n, d in both.items() if d["drifted"]} == {"amount", "amt_ratio1", "amt_ratio2", "max_amt_ratio"}


def test_per_week_sets_the_count_ratio() -> None:
    dense = amount_drift(per_week=41.5)
    counts = [c.num_trans_last_1w for c in dense.cards]
    assert 40 < np.mean(counts) < 43 and min(counts) >= 1
    assert np.mean([c.num_trans_last_1w for c in amount_drift().cards]) < 27


def test_a_long_replay_prints_its_head_and_tail_and_draws_quickly(tmp_path) -> None:
    from rich.console import Console

    plan = plan_scenario(builtin_scenario("amount-drift"), BASE, rng=random.Random(3))
    outcomes = []
    for p in plan.transactions:
        o = Outcome(p, sent_at=1000.0, received_at=1000.05)
        o.prediction = {"tid": p.tid, "num_trans_last_10m": 1, "fraud_probability": 0.2, "is_fraud": False}
        outcomes.append(o)
    rows = build_rows(outcomes)
    summary = summarize("amount-drift", rows)
    console = Console(record=True, width=220)
    render_table(summary, rows, console)
    text = console.export_text()
    assert f"{SHOPPERS - TABLE_ROWS} more in the JSON report" in text
    assert "shopper-0001" in text and "shopper-1500" in text and "shopper-0500" not in text
    began = time.monotonic()
    png = write_png(tmp_path / "drift.png", summary, rows)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert time.monotonic() - began < 30  # 1,500 bar patches took 58 s at nice 19 beside a test run


def test_cli_lists_the_drift_scenarios() -> None:
    from fraudstream.cli.main import app

    listed = CliRunner().invoke(app, ["replay", "--list"])
    assert listed.exit_code == 0 and "amount-drift" in listed.output and "shoppers" in listed.output
