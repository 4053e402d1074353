"""The monitor and its dashboard over the real pipeline: Kafka, the cc-agg job on Flink, both handler
runners and the endpoint serving the session's trained model (``latest``: the extended set), with topics
and tables of this module.

A drift injected by a replay: the ``shoppers`` scenario first (no input drifts), then ``amount-drift``
(the same cards paying ten times their 1-week average); the monitor, reading the reference bins that
training stored with the served model, flags the amount inputs and not the counts. Then the dashboard in
headless Chromium, fed by that traffic, the label feed, an attack and a row the job dead-letters.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fraudstream.features import model_input_names
from fraudstream.monitor.config import MonitorSettings
from fraudstream.monitor.drift import DRIFT_THRESHOLD
from fraudstream.monitor.service import Monitor
from fraudstream.replay.drift_scenarios import amount_drift, shoppers
from fraudstream.replay.service import ReplayResult
from fraudstream.settings import Settings
from fraudstream.testing.data import SMALL_DATA
from fraudstream.testing.models import free_port

from .records import wire
from .test_dashboard_browser import ARTEFACT, dump_dom, flink_has_figures, screenshot
from .test_monitor_kafka import get, produce, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

AMOUNT_INPUTS = {"amount", "amt_ratio1", "amt_ratio2", "max_amt_ratio"}
COUNT_INPUTS = {"count_ratio", "num_trans_last_10m"}
DATA_DAYS = (datetime.fromisoformat(SMALL_DATA["end"]) - datetime.fromisoformat(SMALL_DATA["start"])).days
PER_WEEK = SMALL_DATA["transactions"] / SMALL_DATA["cards"] / (DATA_DAYS / 7)
"""The training data's transactions per card-week (~41): the scenario cards' week of history matches the
data the model was trained on, as the default (25) matches the default data."""
CARDS = 800
PSI_ARTEFACT = ARTEFACT.with_name("drift-psi.json")
"""Fewer than the built-ins' 1,500 (the box is shared): half the monitor's rows drifted either way."""


@pytest.fixture(scope="module")
def pipeline(
    settings: Settings,
    kafka_bootstrap: str,
    dynamodb_endpoint: str,
    flink_rest: str,
    trained_model_dir: Path,
    endpoint_url: str,
) -> Iterator[Settings]:
    from fraudstream.testing.engines import isolated_copy
    from fraudstream.testing.pipeline import running_pipeline

    s = isolated_copy(
        settings, f"drift-{uuid.uuid4().hex[:8]}", model_dir=trained_model_dir, endpoint_url_override=endpoint_url
    )
    with running_pipeline(s):
        yield s


def drift_of(snap: dict) -> dict[str, float]:
    return {name: d["psi"] for name, d in snap["drift"].items()}


@pytest.fixture(scope="module")
def monitor(pipeline: Settings, trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    """The monitor on the pipeline's topics, its Flink bridge polling every second (10 s would slow the test)."""
    config = MonitorSettings(
        port=free_port(), db_path=tmp_path_factory.mktemp("drift-monitor") / "monitor.sqlite",
        model_dir=trained_model_dir, refresh_s=0.5, group_id=f"mon-drift-{uuid.uuid4().hex[:6]}",
        flink_poll_s=1.0, flink_dead_letter_poll_s=2.0,
    )  # fmt: skip
    m = Monitor(pipeline, config)
    m.start()
    yield m
    m.stop()


@dataclass
class Replays:
    normal: ReplayResult
    calm: dict  # the monitor's snapshot after ``shoppers``
    drift: ReplayResult


@pytest.fixture(scope="module")
def replays(pipeline: Settings, monitor: Monitor) -> Replays:
    """``shoppers``, then ``amount-drift``, sent at once with event times in the past."""
    from fraudstream.replay.service import replay_scenario

    start = datetime.now(UTC) - timedelta(minutes=3)
    normal = replay_scenario(shoppers(CARDS, PER_WEEK), pipeline, at=start, timeout_s=180)
    calm = wait_for(monitor, lambda x: x["totals"]["predictions"] == CARDS, timeout=60)
    drift = replay_scenario(amount_drift(CARDS, PER_WEEK), pipeline, at=start + timedelta(minutes=1.5), timeout_s=180)
    wait_for(monitor, lambda x: x["totals"]["predictions"] == 2 * CARDS, timeout=60)
    return Replays(normal, calm, drift)


def served_figures(monitor: Monitor, check, timeout: float = 60.0) -> dict:
    """``/api/figures`` once ``check`` holds: the refresh thread may still serve a snapshot it began before
    the last records were stored (a refresh takes seconds on a loaded box)."""
    deadline = time.monotonic() + timeout
    while not check(figures := json.loads(get(monitor.url + "api/figures"))):
        assert time.monotonic() < deadline, f"the served figures never got there: {figures['totals']}"
        time.sleep(0.5)
    return figures


def test_amount_drift_replay_is_flagged_on_the_amount_inputs_only(
    replays: Replays, monitor: Monitor, trained_model_dir: Path
) -> None:
    assert replays.normal.summary.missing == 0 and replays.drift.summary.missing == 0
    served = json.loads((trained_model_dir / "latest" / "metadata.json").read_text())["version"]
    assert {r.model_version for r in replays.normal.rows} == {served}
    calm = replays.calm
    assert set(calm["drift"]) == set(model_input_names("extended")) == AMOUNT_INPUTS | COUNT_INPUTS
    assert not any(d["drifted"] for d in calm["drift"].values()), drift_of(calm)
    assert all(d["rows"] == CARDS for d in calm["drift"].values())

    assert all(r.amt_ratio2 == pytest.approx(10.0, rel=1e-3) for r in replays.drift.rows)  # what the scorer saw
    figures = served_figures(monitor, lambda x: x["drift"].get("amount", {}).get("rows") == 2 * CARDS)  # both phases
    psi = drift_of(figures)
    PSI_ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    PSI_ARTEFACT.write_text(json.dumps({"after_shoppers": drift_of(calm), "after_amount_drift": psi}, indent=2))
    assert {name for name, d in figures["drift"].items() if d["drifted"]} == AMOUNT_INPUTS, psi
    assert all(psi[name] > DRIFT_THRESHOLD for name in AMOUNT_INPUTS)
    assert all(psi[name] < DRIFT_THRESHOLD for name in COUNT_INPUTS)

    families = {f.name: f for f in text_string_to_metric_families(get(monitor.url + "metrics").decode())}
    flags = {s.labels["input"]: s.value for s in families["fraudstream_monitor_drifted"].samples}
    assert flags == {name: float(name in AMOUNT_INPUTS) for name in AMOUNT_INPUTS | COUNT_INPUTS}


def test_dashboard_over_the_live_pipeline(
    pipeline: Settings, monitor: Monitor, replays: Replays, chromium: str
) -> None:
    """Every panel shows data from the pipeline's own traffic: the replays, labels for them from the label
    feed, the seed article's attack (flagged rows) and one row the Flink job dead-letters as invalid."""
    from fraudstream.messages import Label
    from fraudstream.replay.scenarios import builtin_scenario
    from fraudstream.replay.service import replay_scenario
    from fraudstream.streaming import testkit

    attack = replay_scenario(builtin_scenario("seed-article"), pipeline, timeout_s=120)
    assert attack.summary.attack_flagged > 0
    now = datetime.now(UTC)
    rows = [*replays.normal.rows, *attack.rows]
    produce(
        pipeline,
        [(pipeline.topic_labels, wire(Label(tid=r.tid, is_fraud=r.role == "attack", labelled_at=now))) for r in rows],
    )
    testkit.produce_raw(pipeline, [b"not a transaction"])
    snap = wait_for(monitor, lambda x: x["totals"]["labels"] == len(rows) and x["totals"]["dead_letters"] >= 1)
    wait_for(monitor, flink_has_figures, timeout=120)
    assert snap["windows"]["1h"]["quality"]["positives"] == attack.summary.attack_transactions

    html = dump_dom(chromium, monitor)
    drift_rows = re.search(r'<tbody id="drift">(.*?)</tbody>', html, re.S)
    assert drift_rows, "no drift table"
    assert set(re.findall(r'<tr><td class="drifted">(\w+)</td>', drift_rows.group(1))) == AMOUNT_INPUTS
    assert set(re.findall(r"<tr><td>(\w+)</td>", drift_rows.group(1))) == COUNT_INPUTS
    assert re.search(r'id="flink">in [1-9]\d* · out [1-9]\d*<', html) and "invalid 1" in html
    screenshot(chromium, monitor, ARTEFACT.with_name("dashboard-pipeline.png"))
