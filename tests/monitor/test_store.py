"""The on-disk join: out-of-order and late labels, the latest label winning, retention, figures."""

from __future__ import annotations

import time

from fraudstream.monitor.figures import snapshot
from fraudstream.monitor.ingest import BatchBuilder, reason_of
from fraudstream.monitor.store import MonitorStore
from fraudstream.settings import Settings

from .records import label, prediction, wire


def apply(store: MonitorStore, settings: Settings, records: list[tuple[str, bytes]], start: int = 0) -> BatchBuilder:
    builder = BatchBuilder(settings)
    for i, (topic, value) in enumerate(records):
        builder.add(topic, 0, start + i, value)
    store.apply(builder.build())
    return builder


def test_labels_before_predictions_and_latest_label_wins(tmp_path) -> None:
    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    # label arrives before its prediction; a later correction (1 -> 0) arrives; an older label arrives last
    apply(store, s, [(s.topic_labels, wire(label(1, True, 1))), (s.topic_labels, wire(label(1, False, 5)))])
    apply(
        store, s, [(s.topic_predictions, wire(prediction(1, 0.9))), (s.topic_predictions, wire(prediction(2, 0.1)))], 2
    )
    apply(store, s, [(s.topic_labels, wire(label(1, True, 2))), (s.topic_labels, wire(label(2, False, 3)))], 4)
    rows = {r[0]: r for r in store.joined_since(0)}
    assert rows["t1"][8] == 0  # the label with the latest labelled_at wins, not the last read
    assert rows["t2"][8] == 0
    snap = snapshot(store)
    q = snap["windows"]["5m"]["quality"]
    assert q["labelled"] == 2 and q["precision"] == 0.0 and q["recall"] is None
    assert snap["windows"]["5m"]["decision_rate"] == 0.5
    assert 0.03 < snap["windows"]["5m"]["latency_s"]["p50"] < 0.05
    assert store.offsets() == {(s.topic_labels, 0): 6, (s.topic_predictions, 0): 4}


def test_retention_drops_old_rows(tmp_path) -> None:
    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    apply(store, s, [(s.topic_predictions, wire(prediction(1, 0.9)))])
    assert store.enforce_retention(time.time() - 3600) == 0
    assert store.enforce_retention(time.time() + 1) == 1
    assert store.totals()["predictions"] == 0


def test_bad_records_are_rejected_with_the_reason(tmp_path) -> None:
    s = Settings(state_dir=tmp_path)
    builder = BatchBuilder(s)
    builder.add(s.topic_labels, 0, 0, b'{"tid": "x"}')
    builder.add(s.topic_predictions, 0, 1, b"not json")
    assert [r.error.split(":")[0] for r in builder.rejected] == ["is_fraud", "<record>"]
    assert builder.build().offsets == {(s.topic_labels, 0): 1, (s.topic_predictions, 0): 2}


def test_dead_letter_reasons_are_bounded() -> None:
    assert reason_of("DecodeError: amount: negative amount -5.25") == reason_of(
        "DecodeError: amount: negative amount -7"
    )


def test_a_refresh_holds_a_sample_above_the_row_cap_and_keeps_counts_exact(tmp_path, monkeypatch) -> None:
    """Memory of a refresh is bounded (MAX_ROWS per window, one window at a time), whatever a day of
    traffic holds; counts stay exact."""
    from fraudstream.monitor import figures

    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    apply(store, s, [(s.topic_predictions, wire(prediction(i, 0.9 if i % 4 == 0 else 0.1))) for i in range(100)])
    full = snapshot(store)["windows"]["5m"]
    monkeypatch.setattr(figures, "MAX_ROWS", 10)
    held: list[int] = []
    real = store.joined_columns
    monkeypatch.setattr(store, "joined_columns", lambda since, every=1: held.append(len(r := real(since, every))) or r)
    sampled = snapshot(store)["windows"]["5m"]
    assert held == [10] * len(figures.WINDOWS) and sampled["sampled_every"] == 10 and full["sampled_every"] == 1
    assert sampled["predictions"] == full["predictions"] == 100
    assert sampled["decision_rate"] == full["decision_rate"] == 0.25
    assert 0.03 < sampled["latency_s"]["p50"] < 0.05


def test_a_short_window_is_sampled_by_its_own_size_not_the_days(tmp_path, monkeypatch) -> None:
    """A busy day must not leave the 5-minute window a handful of sampled rows: each window's sample
    step comes from its own count."""
    from datetime import UTC, datetime, timedelta

    from fraudstream.monitor import figures

    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    hours_ago = datetime.now(UTC) - timedelta(hours=3)
    older = [(s.topic_predictions, wire(prediction(i, 0.1, scored_at=hours_ago))) for i in range(1000)]
    recent = [(s.topic_predictions, wire(prediction(1000 + i, 0.9 if i % 2 else 0.1))) for i in range(40)]
    apply(store, s, older + recent)
    monkeypatch.setattr(figures, "MAX_ROWS", 20)
    windows = snapshot(store)["windows"]
    assert windows["1d"]["predictions"] == 1040 and windows["1d"]["sampled_every"] == 52
    assert windows["5m"]["predictions"] == 40 and windows["5m"]["sampled_every"] == 2
    assert windows["5m"]["quality"]["labelled"] == 0
    assert windows["5m"]["decision_rate"] == 0.5  # exact (SQL), whatever the sample


def test_columns_hold_what_the_rows_hold_and_inputs_come_from_the_records(tmp_path) -> None:
    """The refresh's columnar read equals the row read; drift's inputs equal the stored records' values."""
    import json

    import numpy as np

    from fraudstream.monitor import store as store_module

    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    n = store_module.FETCH_CHUNK + 7  # more than one chunk
    apply(store, s, [(s.topic_predictions, wire(prediction(i, (i % 10) / 10, amount=10.0 + i))) for i in range(n)])
    apply(store, s, [(s.topic_labels, wire(label(i, i % 3 == 0, 1))) for i in range(0, n, 2)], n)
    rows = sorted(store.joined_since(0), key=lambda r: r[3])
    cols = store.joined_columns(0)
    order = np.argsort(cols.scored_at, kind="stable")
    assert len(cols) == len(rows) == n
    assert cols.model_version.tolist() == [r[1] for r in rows]
    assert cols.probability[order].tolist() == [r[4] for r in rows]
    assert cols.decision[order].tolist() == [r[5] for r in rows]
    labels = cols.is_fraud[order]
    assert [None if np.isnan(v) else int(v) for v in labels] == [r[8] for r in rows]
    assert int(np.isnan(labels).sum()) == n // 2  # odd tids have no label yet
    assert len(store.joined_columns(0, every=10)) == n // 10

    inputs = store.inputs_since(0, 100, ["amount", "amt_ratio2", "no_such_input"])
    latest = [json.loads(r[0]) for r in store.query("SELECT record FROM predictions ORDER BY scored_at DESC LIMIT 100")]
    assert inputs["amount"].tolist() == [r["amount"] for r in latest]
    assert inputs["amt_ratio2"].tolist() == [r["amt_ratio2"] for r in latest]
    assert np.isnan(inputs["no_such_input"]).all()


def test_a_long_read_does_not_hold_up_ingest(tmp_path) -> None:
    """A refresh reads for seconds on a busy day; the consumer's writes must not wait for it (they
    did with one shared connection, and the Kafka client fetched ahead meanwhile: memory spikes)."""
    import threading

    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    apply(store, s, [(s.topic_predictions, wire(prediction(i, 0.1))) for i in range(10)])
    count_to_ten_million = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000) SELECT COUNT(*) FROM c"
    )
    slow_read = threading.Thread(target=store.query, args=(count_to_ten_million,))
    slow_read.start()
    time.sleep(0.2)  # the read is under way
    try:
        apply(store, s, [(s.topic_predictions, wire(prediction(100 + i, 0.1))) for i in range(10)], 10)
        assert slow_read.is_alive(), "the read ended before the write: it proves nothing"
    finally:
        slow_read.join()
    assert store.totals()["predictions"] == 20
    store.close()


def test_quality_is_also_split_by_model_version(tmp_path) -> None:
    """A shadow or A/B deployment writes two versions' predictions: each gets its own count and quality,
    and the window's totals hold both."""
    s = Settings(state_dir=tmp_path)
    store = MonitorStore(tmp_path / "m.sqlite")
    champion = [prediction(i, 0.9 if i < 4 else 0.1) for i in range(8)]  # flags t0-t3
    challenger = [
        prediction(i, 0.9 if i % 2 == 0 else 0.1).model_copy(update={"model_version": "v-new"}) for i in range(8, 12)
    ]
    apply(store, s, [(s.topic_predictions, wire(p)) for p in champion + challenger])
    frauds = {0, 1, 8, 10, 11}  # champion: 2 of its 4 flags right, 2 of 2 frauds caught; challenger: 2 of 3
    labels = [(s.topic_labels, wire(label(i, i in frauds, 1))) for i in range(12)]
    apply(store, s, labels, 12)
    window = snapshot(store)["windows"]["5m"]
    versions = window["by_model_version"]
    assert set(versions) == {"v-test", "v-new"}
    assert versions["v-test"]["predictions"] == 8 and versions["v-new"]["predictions"] == 4
    assert versions["v-test"]["quality"]["precision"] == 0.5 and versions["v-test"]["quality"]["recall"] == 1.0
    assert versions["v-new"]["quality"]["precision"] == 1.0 and versions["v-new"]["quality"]["recall"] == 2 / 3
    assert window["predictions"] == 12 and window["quality"]["labelled"] == 12
