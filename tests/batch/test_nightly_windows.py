"""Merchant count/risk under the label-delay rule and card 1/7/30-day windows (real Spark).

Known values on hand-built rows at the window edges, then the nightly SQL, the training set's
per-day runs and an independent pandas recomputation agree bit for bit on random data.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.batch.card_windows import add_card_windows, card_window_features
from fraudstream.batch.io import read_transactions
from fraudstream.batch.merchant_features import add_merchant_features, merchant_features, merchant_runs

from .helpers import MS, utc

pytestmark = pytest.mark.integration

D = utc("2020-03-01 00:00:00")  # the nightly run (as_of) under test
DAY = timedelta(days=1)
CARD = "4000000000000001"


def _write(path, rows) -> str:
    """Parquet of (tid, cc_num, merchant, trans_time, amount, fraud_label, labelled_at) rows."""
    frame = pd.DataFrame(
        rows, columns=["tid", "cc_num", "merchant", "trans_time", "amount", "fraud_label", "labelled_at"]
    )
    for col in ("trans_time", "labelled_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ms, UTC]")
    frame["fraud_label"] = frame["fraud_label"].astype("int8")
    frame.to_parquet(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def edge_tx(spark, tmp_path_factory):
    """Merchant M around the windows of run D (7-day delay: 1 d = [D-8, D-7), 30 d = [D-37, D-7))."""
    rows = [
        ("m1", CARD, "M", D - 8 * DAY + timedelta(hours=12), 10.0, 1, D - DAY),  # fraud, known the day before
        ("m2", CARD, "M", D - 8 * DAY + timedelta(hours=13), 10.0, 1, D),  # labelled at as_of: not known yet
        ("m3", CARD, "M", D - 8 * DAY + timedelta(hours=14), 10.0, 0, D - DAY),
        ("m4", CARD, "M", D - 7 * DAY, 10.0, 1, D - 3 * DAY),  # at the delayed end: outside every window
        ("m5", CARD, "M", D - 37 * DAY, 10.0, 1, D - 30 * DAY),  # first instant of the 30-day window
        ("m6", CARD, "M", D - 37 * DAY - MS, 10.0, 1, D - 30 * DAY),  # 1 ms before it: outside
        ("m7", CARD, "M", D - 14 * DAY + timedelta(hours=10), 10.0, 0, D - DAY),  # 7-day window only
        ("m8", CARD, "M", D - 9 * DAY, 10.0, 1, None),  # fraud whose label never came: not known
        ("x1", CARD, None, D - 8 * DAY, 10.0, 1, D - DAY),  # no merchant: in no merchant's figures
        ("q1", CARD, "M", D + timedelta(hours=10), 25.0, 0, D + 8 * DAY),  # a transaction of day D
    ]
    path = _write(tmp_path_factory.mktemp("edges") / "tx.parquet", rows)
    return read_transactions(spark, path)


def test_merchant_run_values_at_the_window_edges(edge_tx) -> None:
    (row,) = merchant_features(edge_tx, D.date()).collect()
    assert row["merchant"] == "M"
    # 1 d: m1 m2 m3; 7 d: + m7 m8; 30 d: + m5. Known frauds: m1 (and m5 in 30 d); m2 m4 m6 m8 never
    assert (row["merchant_num_trans_1d"], row["merchant_risk_1d"]) == (3, 1 / 3)
    assert (row["merchant_num_trans_7d"], row["merchant_risk_7d"]) == (5, 1 / 5)
    assert (row["merchant_num_trans_30d"], row["merchant_risk_30d"]) == (6, 2 / 6)
    # known frauds, no delay: [D-1, D) has no transaction; [D-7, D): m4; [D-30, D): m1 m4 (m2 at D, m8 never)
    known = [row[F.MERCHANT_KNOWN_FRAUDS[days]] for days in (1, 7, 30)]
    assert known == [None, 1, 2]
    # one card behind both known frauds; earliest m1 (day D-8), latest m4 (D-7 00:00), after which
    # no legitimate label is known (m3, legit, is between them)
    assert [row[F.MERCHANT_KNOWN_FRAUD_CARDS[days]] for days in (7, 30)] == [1, 1]
    episode = [row[name] for name in F.MERCHANT_EPISODE_FEATURES]
    assert episode == [8, 7, 0, 1]  # the card's known frauds are all at M


def test_known_frauds_without_label_times_wait_for_the_delay(edge_tx) -> None:
    """Data without ``labelled_at`` knows each label ``delay_days`` after its transaction: a fraud 2 days
    before the run is not known yet, whatever window reads it; one 8 days before is."""
    from pyspark.sql import functions as f

    no_times = edge_tx.drop("labelled_at")
    recent = edge_tx.limit(1).select(
        f.lit("r1").alias("tid"),
        "cc_num",
        "merchant",
        f.lit(D - 2 * DAY).cast("timestamp").alias("trans_time"),
        "amount",
        f.lit(1).cast("int").alias("fraud_label"),
    )
    rows = no_times.select(*recent.columns).unionByName(recent)
    (row,) = merchant_features(rows, D.date()).collect()
    # [D-7, D): m4 (D-7, known at D exactly: not yet) and r1 (known at D+5): none known
    assert row[F.MERCHANT_KNOWN_FRAUDS[7]] == 0
    # [D-30, D): m1 m2 (D-8, known at D-1) m8 (D-9, known at D-2); m4 and r1 not yet
    assert row[F.MERCHANT_KNOWN_FRAUDS[30]] == 3
    runs = merchant_runs(rows).toPandas().set_index("day")
    assert runs.loc[D.date(), F.MERCHANT_KNOWN_FRAUDS[30]] == 3


def test_a_label_known_after_as_of_counts_the_next_night(edge_tx) -> None:
    """m2's label arrives at D: run D+1 knows it (its 1-day window then is [D-7, D-6): m4, known)."""
    after = merchant_features(edge_tx, (D + DAY).date()).collect()[0]
    assert after["merchant_num_trans_1d"] == 1 and after["merchant_risk_1d"] == 1.0  # m4
    assert after["merchant_risk_7d"] == 3 / 5  # m1 m2 m4 known among m1 m2 m3 m4 m8 (m7 left)


def test_delay_rule_is_configurable(edge_tx) -> None:
    """Without the delay only ``labelled_at < as_of`` holds labels back: 1 d = [D-1, D) is empty."""
    rows = merchant_features(edge_tx, D.date(), F.LabelDelayRule(0)).collect()
    (row,) = rows
    assert row["merchant_num_trans_1d"] is None and row["merchant_risk_1d"] is None
    assert (row["merchant_num_trans_7d"], row["merchant_risk_7d"]) == (1, 1.0)  # [D-7, D): m4
    assert row["merchant_num_trans_30d"] == 6  # m1 m2 m3 m4 m7 m8 (m5 is 37 days back)
    assert row["merchant_risk_30d"] == 2 / 6  # m1 m4 known; m2 (labelled at D) and m8 not
    with pytest.raises(ValueError, match="label delay"):
        F.LabelDelayRule(-1)


def test_training_rows_get_their_days_run(edge_tx) -> None:
    rows = {r["tid"]: r for r in add_merchant_features(edge_tx).collect()}
    run = merchant_features(edge_tx, D.date()).collect()[0]
    for name in F.MERCHANT_FEATURES:
        assert rows["q1"][name] == run[name]
    assert all(rows["x1"][name] is None for name in F.MERCHANT_FEATURES)


# ---------------------------------------------------------------------------------------------
# Random data: nightly SQL == training-set runs == pandas, merchants and cards
# ---------------------------------------------------------------------------------------------
START = pd.Timestamp("2020-01-01", tz="UTC")
DAYS = 50


@pytest.fixture(scope="module")
def random_frame(tmp_path_factory) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(15)
    n = 2500
    times = START + pd.to_timedelta(np.sort(rng.integers(0, DAYS * 86_400_000, size=n)), unit="ms")
    fraud = rng.random(n) < 0.15
    delay_ms = rng.integers(0, 16 * 86_400_000, size=n)
    labelled = times + pd.to_timedelta(delay_ms, unit="ms")
    labelled = labelled.where(rng.random(n) > 0.05)  # some labels never arrive
    merchants = np.array([f"m-{i:03d}" for i in rng.integers(0, 12, size=n)], dtype=object)
    merchants[rng.random(n) < 0.03] = None
    frame = pd.DataFrame(
        {
            "tid": [f"t{i:05d}" for i in range(n)],
            "cc_num": [f"40000000000000{c:02d}" for c in rng.integers(0, 25, size=n)],
            "merchant": merchants,
            "trans_time": times,
            "amount": np.round(rng.choice([0.5, 5.0, 50.0, 500.0], size=n) * rng.random(n) + 0.01, 2),
            "fraud_label": fraud.astype("int8"),
            "labelled_at": labelled,
        }
    )
    path = _write(tmp_path_factory.mktemp("random") / "tx.parquet", frame.itertuples(index=False))
    return frame, path


def pandas_merchant_run(frame: pd.DataFrame, as_of: pd.Timestamp, delay: int) -> dict[str, dict[str, object]]:
    """Independent recomputation of one run: merchant -> feature -> value (None = missing)."""
    end = as_of - pd.Timedelta(days=delay)
    out: dict[str, dict[str, object]] = {}
    for merchant, g in frame[frame.merchant.notna()].groupby("merchant"):
        values: dict[str, object] = {}
        for days, (count_name, risk_name) in F.MERCHANT_WINDOWS.items():
            w = g[(g.trans_time >= end - pd.Timedelta(days=days)) & (g.trans_time < end)]
            known = int(((w.fraud_label == 1) & (w.labelled_at < as_of)).sum())
            values[count_name] = len(w) or None
            values[risk_name] = known / len(w) if len(w) else None
        for days, name in F.MERCHANT_KNOWN_FRAUDS.items():
            w = g[(g.trans_time >= as_of - pd.Timedelta(days=days)) & (g.trans_time < as_of)]
            values[name] = int(((w.fraud_label == 1) & (w.labelled_at < as_of)).sum()) if len(w) else None
        for days, name in F.MERCHANT_KNOWN_FRAUD_CARDS.items():
            w = g[(g.trans_time >= as_of - pd.Timedelta(days=days)) & (g.trans_time < as_of)]
            cards = w[(w.fraud_label == 1) & (w.labelled_at < as_of)].cc_num.nunique()
            values[name] = int(cards) if len(w) else None
        values.update(pandas_episode(g, as_of, frame))
        if ((g.trans_time >= end - pd.Timedelta(days=30)) & (g.trans_time < as_of)).any():
            out[merchant] = values
    return out


def pandas_episode(g: pd.DataFrame, as_of: pd.Timestamp, frame_all: pd.DataFrame) -> dict[str, object]:
    """A merchant's episode features of the run of ``as_of`` (rows ``g`` of that merchant)."""
    w = g[(g.trans_time >= as_of - pd.Timedelta(days=F.EPISODE_DAYS)) & (g.trans_time < as_of)]
    known = w[(w.fraud_label == 1) & (w.labelled_at < as_of)]
    if known.empty:
        return dict.fromkeys(F.MERCHANT_EPISODE_FEATURES)
    days = (as_of.normalize() - known.trans_time.dt.normalize()).dt.days
    legit = w[(w.fraud_label == 0) & (w.labelled_at < as_of) & (w.trans_time > known.trans_time.max())]
    window = frame_all[
        (frame_all.trans_time >= as_of - pd.Timedelta(days=F.EPISODE_DAYS)) & (frame_all.trans_time < as_of)
    ]
    elsewhere = window[(window.fraud_label == 1) & (window.labelled_at < as_of) & window.merchant.notna()]
    elsewhere = set(elsewhere[elsewhere.merchant != g.merchant.iloc[0]].cc_num)
    return {
        F.MERCHANT_FIRST_KNOWN_FRAUD_AGE: int(days.max()),
        F.MERCHANT_LAST_KNOWN_FRAUD_AGE: int(days.min()),
        F.MERCHANT_KNOWN_LEGIT_AFTER_FRAUD: len(legit),
        F.MERCHANT_KNOWN_FRAUD_OWN_CARDS: len(set(known.cc_num) - elsewhere),
    }


def pandas_card_run(frame: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for card, g in frame.groupby("cc_num"):
        values: dict[str, object] = {}
        for days, (count_name, mean_name) in F.CARD_WINDOWS.items():
            w = g[(g.trans_time >= as_of - pd.Timedelta(days=days)) & (g.trans_time < as_of)]
            cents = int(np.round(w.amount * 100).astype(np.int64).sum())
            values[count_name] = len(w) or None
            values[mean_name] = float(cents) / 100 / len(w) if len(w) else None
        w = g[(g.trans_time >= as_of - pd.Timedelta(days=F.CARD_AMOUNT_PROFILE_DAYS)) & (g.trans_time < as_of)]
        c = [int(v) for v in np.round(w.amount * 100).astype(np.int64)]  # Python ints: exact
        n, total, squares = len(c), sum(c), sum(v * v for v in c)
        values[F.AMT_STD_LAST_30D] = math.sqrt(float(n * squares - total * total) / float(n * n)) / 100 if n else None
        values[F.MAX_AMT_LAST_30D] = float(w.amount.max()) if n else None
        if values[F.NUM_TRANS_LAST_30D] is not None:
            out[card] = values
    return out


def test_merchant_runs_equal_nightly_sql_and_pandas(spark, random_frame) -> None:
    """Delay 7 (the default); delay 0 is checked on the edge rows above."""
    frame, path = random_frame
    tx = read_transactions(spark, path)
    delay = 7
    rule = F.LabelDelayRule(delay)
    per_day = merchant_runs(tx, rule).toPandas()
    checked = 0
    for as_of in (START + pd.Timedelta(days=d) for d in (8, 20, 49)):
        expected = pandas_merchant_run(frame, as_of, delay)
        sql = {r["merchant"]: r.asDict() for r in merchant_features(tx, as_of.date(), rule).collect()}
        assert set(sql) == set(expected)
        for merchant, values in expected.items():
            assert {k: sql[merchant][k] for k in values} == values, (as_of, merchant)
        runs = per_day[per_day.day == as_of.date()]
        for _, run in runs.iterrows():  # merchants that traded on that day
            got = {k: (None if pd.isna(run[k]) else run[k]) for k in F.MERCHANT_FEATURES}
            want = expected.get(run.merchant, dict.fromkeys(F.MERCHANT_FEATURES))
            assert got == want, (as_of, run.merchant)
            checked += 1
    assert checked > 20


def test_card_windows_equal_nightly_sql_and_pandas(spark, random_frame) -> None:
    frame, path = random_frame
    tx = read_transactions(spark, path)
    rows = add_card_windows(tx).toPandas()
    rows["day"] = pd.to_datetime(rows.trans_time).dt.tz_localize(None).dt.normalize()
    names = [*(n for pair in F.CARD_WINDOWS.values() for n in pair), *F.CARD_AMOUNT_PROFILE]
    for as_of in (START + pd.Timedelta(days=d) for d in (1, 31, 45)):
        expected = pandas_card_run(frame, as_of)
        sql = {r["cc_num"]: r.asDict() for r in card_window_features(tx, as_of.date()).collect()}
        assert set(sql) == set(expected)
        for card, values in expected.items():
            for name, value in values.items():
                assert sql[card][name] == pytest.approx(value, rel=1e-15) if value else sql[card][name] == value
        day_rows = rows[rows.day == as_of.tz_localize(None)]
        assert len(day_rows) > 10
        for _, row in day_rows.iterrows():  # the training rows carry exactly the run's values
            run = sql.get(row.cc_num, dict.fromkeys(names))
            assert {n: (None if pd.isna(row[n]) else row[n]) for n in names} == {n: run[n] for n in names}


def test_training_set_is_point_in_time_and_trains_merchant_risk(spark, random_frame, tmp_path) -> None:
    """Written rows carry their day's runs; a --from range reads enough context (delay + 30 days)."""
    from fraudstream.batch.training_set import build_training_set, training_frame
    from fraudstream.model.dataset import feature_matrix, load_training_set

    frame, path = random_frame
    tx = read_transactions(spark, path)
    full = tmp_path / "full"
    summary = build_training_set(spark, path, str(full))
    assert summary["label_delay_days"] == 7
    first = (START + pd.Timedelta(days=40)).date()
    rows = load_training_set(full).set_index("tid")
    later = training_frame(tx, first).toPandas().set_index("tid")
    nightly = [*F.CARD_WINDOW_FEATURES, *F.CARD_AMOUNT_PROFILE, *F.MERCHANT_FEATURES]
    pd.testing.assert_frame_equal(
        later[nightly].astype(float), rows.loc[later.index, nightly].astype(float), check_exact=True
    )

    runs = merchant_runs(tx).toPandas().set_index(["merchant", "day"])
    for tid, row in rows.sample(200, random_state=1).iterrows():
        merchant = frame.set_index("tid").loc[tid, "merchant"]
        key = (merchant, row.trans_time.date())
        want = runs.loc[key, list(F.MERCHANT_FEATURES)] if merchant is not None else None
        for name in F.MERCHANT_FEATURES:
            got = row[name]
            assert (pd.isna(got) and (want is None or pd.isna(want[name]))) or got == want[name], (tid, name)
    assert rows[list(F.MERCHANT_FEATURES)].notna().any().all()
    inputs = feature_matrix(rows, "merchant-risk")
    assert inputs.shape == (len(rows), len(F.MERCHANT_RISK_INPUTS))
    named = dict(zip(F.MERCHANT_RISK_INPUTS, inputs.T, strict=True))
    np.testing.assert_array_equal(named[F.MERCHANT_WINDOWS[30][1]], rows[F.MERCHANT_WINDOWS[30][1]].to_numpy(float))
    ratio = rows["amount"].to_numpy(float) / rows[F.AVG_AMT_LAST_30D].to_numpy(float)
    np.testing.assert_array_equal(named[F.AMT_RATIO_30D], ratio)  # no 30-day history: NaN in both
