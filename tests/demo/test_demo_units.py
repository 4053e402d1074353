"""Pure parts of the demo: file naming, settings passed to child processes, the live slice plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from fraudstream.demo.live import fit_slice, plan_live_slice
from fraudstream.demo.pipeline import DemoOptions
from fraudstream.settings import Settings, env_name, settings_env


def test_default_and_reduced_sizes_use_different_files() -> None:
    default = DemoOptions()
    small = DemoOptions(cards=1000, transactions=300_000)
    assert default.data_path() == Path("data/transactions.parquet")
    assert default.training_path() == Path("data/training-set")
    assert small.data_path() != default.data_path()
    assert small.training_path() == Path("data/training-set-1000c-300000t")
    custom = DemoOptions(data=Path("/tmp/x/tx.parquet"))
    assert custom.training_path() == Path("/tmp/x/tx-training-set")


def test_env_names_follow_the_settings_aliases() -> None:
    assert env_name("kafka_port") == "FRAUDSTREAM_KAFKA_PORT"
    assert env_name("kafka_bootstrap_override") == "FRAUDSTREAM_KAFKA_BOOTSTRAP"
    assert env_name("aws_endpoint_override") == "FRAUDSTREAM_AWS_ENDPOINT_URL"
    assert env_name("endpoint_url_override") == "FRAUDSTREAM_ENDPOINT_URL"


def test_a_child_process_reads_back_the_same_settings(monkeypatch, tmp_path) -> None:
    original = Settings(
        state_dir=tmp_path,
        kafka_port=40001,
        dynamodb_port=40002,
        topic_predictions="predictions-x",
        table_batch="batch-x",
        model_dir=tmp_path / "models",
    ).model_copy(update={"endpoint_url_override": "http://127.0.0.1:40003"})
    for name in list(__import__("os").environ):
        if name.startswith(("FRAUDSTREAM_", "AWS_")):
            monkeypatch.delenv(name)
    for name, value in settings_env(original).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.kafka_bootstrap == original.kafka_bootstrap
    assert child.aws_endpoint_url == original.aws_endpoint_url
    assert child.endpoint_url == "http://127.0.0.1:40003"
    assert (child.topic_predictions, child.table_batch) == ("predictions-x", "batch-x")
    assert child.model_dir == (tmp_path / "models").resolve()


def _frame() -> pd.DataFrame:
    times = pd.to_datetime(["2020-05-31 10:00:00", "2020-05-31 10:00:30", "2020-05-31 12:00:00"], utc=True)
    return pd.DataFrame(
        {
            "tid": ["a", "b", "c"],
            "trans_time": times,
            "cc_num": ["4000000000000001", "4000000000000001", "4000000000000002"],
            "amount": [10.0, 20.5, 30.0],
            "fraud_label": [0, 1, 0],
        }
    )


def test_live_slice_keeps_spacing_and_ends_at_the_start_plus_span() -> None:
    start = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    plan = plan_live_slice(_frame(), start, rate_per_s=100)
    times = [t.event_time for t in plan.transactions]
    assert times == [start, start + timedelta(seconds=30), start + timedelta(hours=2)]
    assert [t.role for t in plan.transactions] == ["normal", "attack", "normal"]
    assert [t.send_offset_s for t in plan.transactions] == [0.0, 0.01, 0.02]
    assert len({t.tid for t in plan.transactions}) == 3 and all(t.tid.startswith("live-") for t in plan.transactions)


def test_slice_is_trimmed_so_that_no_event_goes_behind_or_into_the_future() -> None:
    frame = _frame()  # 10:00:00, 10:00:30, 12:00:00 (a 2 h span)
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    rows, start = fit_slice(frame, now, None)
    assert len(rows) == 3 and start == now - timedelta(hours=2)
    rows, start = fit_slice(frame, now, now - timedelta(hours=5))
    assert len(rows) == 3 and start == now - timedelta(hours=2)
    rows, start = fit_slice(frame, now, now - timedelta(hours=1, minutes=59, seconds=20))
    assert list(rows["tid"]) == ["c"] and start == now, "rows before the newest sent event are dropped"
    rows, _ = fit_slice(frame, now, now)
    assert rows.empty
