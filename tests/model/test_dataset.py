"""Time split and the trainer's feature matrix (which must be the shared feature function's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.model.dataset import TimeSplit, data_hash, feature_matrix, load_training_set, split_by_time


def _frame() -> pd.DataFrame:
    times = pd.date_range("2020-01-01", "2020-06-01", freq="6h", inclusive="left")
    n = len(times)
    rng = np.random.default_rng(0)
    week_n = rng.integers(1, 30, n).astype(float)
    week_n[::7] = np.nan  # cards without 1-week history
    return pd.DataFrame(
        {
            "tid": [f"t{i}" for i in range(n)],
            "trans_time": times,
            "amount": rng.uniform(1, 500, n).round(2),
            "fraud_label": (np.arange(n) % 50 == 0).astype(int),
            "attack_id": [f"a{i}" if i % 50 == 0 else None for i in range(n)],
            F.NUM_TRANS_LAST_10M: rng.integers(1, 4, n),
            F.AVG_AMT_LAST_10M: rng.uniform(1, 500, n),
            F.MAX_AMT_LAST_10M: rng.uniform(1, 900, n),
            F.NUM_TRANS_LAST_1W: week_n,
            F.AVG_AMT_LAST_1W: np.where(np.isnan(week_n), np.nan, rng.uniform(1, 500, n)),
            "dt": times.strftime("%Y-%m-%d"),
        }
    )


def test_default_split_is_the_anchors() -> None:
    split = TimeSplit()
    assert split.to_dict() == {
        "train_start": "2020-01-15T00:00:00",
        "validation_start": "2020-05-01T00:00:00",
        "test_start": "2020-05-15T00:00:00",
        "test_end": None,
        "gap_days": 0.0,
    }
    with pytest.raises(ValueError, match="out of order"):
        TimeSplit("2020-05-01", "2020-04-01", "2020-05-15")


def test_split_periods_are_disjoint_and_inside_their_bounds() -> None:
    parts = split_by_time(_frame(), TimeSplit())
    assert parts.train["trans_time"].min() >= pd.Timestamp("2020-01-15")
    assert parts.train["trans_time"].max() < parts.validation["trans_time"].min()
    assert parts.validation["trans_time"].max() < pd.Timestamp("2020-05-15") <= parts.test["trans_time"].min()
    assert not set(parts.train.tid) & set(parts.test.tid)
    with pytest.raises(ValueError, match="test period"):
        split_by_time(_frame(), TimeSplit(test_start="2020-05-15", test_end="2020-05-15 00:01"))


def test_gap_drops_the_label_delay_days_before_validation_and_test() -> None:
    split = TimeSplit(gap_days=7)
    parts = split_by_time(_frame(), split)
    # rows every 6 h: the last kept train row is 7 days + 6 h before validation starts, and so on
    assert parts.train["trans_time"].max() == pd.Timestamp("2020-04-23 18:00")
    assert parts.validation["trans_time"].min() == pd.Timestamp("2020-05-01")
    assert parts.validation["trans_time"].max() == pd.Timestamp("2020-05-07 18:00")
    assert parts.test["trans_time"].min() == pd.Timestamp("2020-05-15")
    assert split.to_dict()["gap_days"] == 7.0
    with pytest.raises(ValueError, match="leaves a period empty"):
        TimeSplit(gap_days=14)
    with pytest.raises(ValueError, match=">= 0"):
        TimeSplit(gap_days=-1)


def test_proportional_split_skips_the_first_week() -> None:
    split = TimeSplit.for_span(pd.Timestamp("2020-03-01 10:00"), pd.Timestamp("2020-03-29"))
    assert split.train_start == pd.Timestamp("2020-03-08")
    assert split.train_start < split.validation_start < split.test_start < pd.Timestamp("2020-03-29")


def test_feature_matrix_is_compute_model_inputs(tmp_path: Path) -> None:
    frame = _frame()
    for feature_set in ("anchor", "extended"):
        expected = F.compute_model_inputs(
            frame.amount,
            frame[F.NUM_TRANS_LAST_10M],
            frame[F.AVG_AMT_LAST_10M],
            frame[F.NUM_TRANS_LAST_1W],
            frame[F.AVG_AMT_LAST_1W],
            frame[F.MAX_AMT_LAST_10M],
            feature_set,
        )
        got = feature_matrix(frame, feature_set)
        assert got.shape == (len(frame), len(F.model_input_names(feature_set)))
        np.testing.assert_array_equal(got, expected)
        assert np.isnan(got[::7, 1:4]).all()  # no 1-week history: missing ratios


def test_load_training_set_reads_partitions_sorted_with_positions(tmp_path: Path) -> None:
    frame = _frame().sample(frac=1.0, random_state=1)
    frame.to_parquet(tmp_path / "ts", partition_cols=["dt"], index=False)
    loaded = load_training_set(tmp_path / "ts")
    assert loaded["trans_time"].is_monotonic_increasing
    assert len(loaded) == len(frame)
    assert (loaded.loc[loaded.fraud_label == 1, "chain_position"] == 1).all()
    digest = data_hash(tmp_path / "ts")
    assert digest.startswith("sha256:") and digest == data_hash(tmp_path / "ts")
    with pytest.raises(FileNotFoundError):
        load_training_set(tmp_path / "nope")


def test_load_training_set_reads_pandas_parquet_and_csv_files(tmp_path: Path) -> None:
    """A user's own file: pandas writes nanosecond (here tz-aware) timestamps; CSV holds ISO text."""
    frame = _frame().drop(columns="dt")
    frame["cc_num"] = 4000_0000_0000_0000 + np.arange(len(frame)) % 7
    frame["trans_time"] = frame["trans_time"].dt.tz_localize("UTC")
    frame.sample(frac=1.0, random_state=2).to_parquet(tmp_path / "mine.parquet", index=False)
    frame.to_csv(tmp_path / "mine.csv", index=False)
    expected = frame["trans_time"].dt.tz_localize(None)
    for name in ("mine.parquet", "mine.csv"):
        loaded = load_training_set(tmp_path / name)
        assert loaded["trans_time"].dtype == "datetime64[ns]", name
        pd.testing.assert_series_equal(loaded["trans_time"], expected, check_names=False)
        np.testing.assert_array_equal(feature_matrix(loaded, "anchor"), feature_matrix(_frame(), "anchor"))
        assert "cc_num" in loaded and loaded["chain_position"].max() == 1
    frame.drop(columns="fraud_label").to_csv(tmp_path / "unlabelled.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks required columns \['fraud_label'\]"):
        load_training_set(tmp_path / "unlabelled.csv")


def test_train_cli_trains_on_a_users_csv_with_a_label_delay_gap(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fraudstream.cli.main import app
    from fraudstream.model import registry

    frame = _frame().drop(columns="dt")
    frame["fraud_label"] = (np.arange(len(frame)) % 5 == 0).astype(int)
    frame.to_csv(tmp_path / "mine.csv", index=False)
    args = ["train", "--input", str(tmp_path / "mine.csv"), "--model-dir", str(tmp_path / "models")]
    args += ["--feature-set", "anchor", "--max-rounds", "5", "--nthread", "1", "--threshold-rule", "best_f1"]
    result = CliRunner().invoke(app, [*args, "--gap-days", "7"])
    assert result.exit_code == 0, result.output
    meta = registry.load_metadata(tmp_path / "models")
    assert meta.training_window["gap_days"] == 7.0 and meta.threshold_rule == "best_f1"
    report = registry.load_report(tmp_path / "models", meta.version)
    assert report["train"]["last"] == "2020-04-23T18:00:00" and report["validation"]["last"] == "2020-05-07T18:00:00"
    refused = CliRunner().invoke(app, [*args, "--gap-days", "30"])
    assert refused.exit_code == 2 and "leaves a period empty" in refused.output


def test_a_set_the_scorer_cannot_serve_is_registered_but_never_latest(tmp_path: Path, monkeypatch) -> None:
    from fraudstream.model import registry

    # every set is servable since merchant passes through Flink: the rule is tested on a planted one
    monkeypatch.setattr(F, "SERVABLE_FEATURE_SETS", ("anchor", "extended"))
    from fraudstream.model.pipeline import train_feature_sets
    from fraudstream.model.training import TrainingConfig

    frame = _frame()
    frame["fraud_label"] = (np.arange(len(frame)) % 5 == 0).astype(int)
    rng = np.random.default_rng(1)
    for name in (*F.CARD_WINDOW_FEATURES, *F.MERCHANT_FEATURES):
        frame[name] = rng.uniform(0, 50, len(frame))
    frame.to_parquet(tmp_path / "ts", partition_cols=["dt"], index=False)
    config = TrainingConfig(max_rounds=5, nthread=1, threshold_rule="best_f1")
    with pytest.raises(ValueError, match="cannot be served yet"):
        train_feature_sets(tmp_path / "ts", tmp_path / "m", ("anchor", "merchant-risk"), config, latest="merchant-risk")
    metas = train_feature_sets(tmp_path / "ts", tmp_path / "m", ("anchor", "merchant-risk"), config)
    assert [m.feature_set for m in metas] == ["anchor", "merchant-risk"]
    assert metas[1].feature_names == list(F.model_input_names("merchant-risk"))
    assert registry.load_metadata(tmp_path / "m").feature_set == "anchor"


def test_latest_serves_the_held_out_winner_not_the_last_trained_set(tmp_path: Path) -> None:
    from fraudstream.model import registry
    from fraudstream.model.pipeline import train_feature_sets
    from fraudstream.model.training import TrainingConfig

    frame = _frame()
    rng = np.random.default_rng(2)
    for name in (*F.CARD_WINDOW_FEATURES, *F.MERCHANT_FEATURES):
        frame[name] = rng.uniform(0, 50, len(frame))
    frame[F.MERCHANT_WINDOWS[30][1]] = frame["fraud_label"] + rng.uniform(0, 0.5, len(frame))  # merchant risk tells
    frame.to_parquet(tmp_path / "ts", partition_cols=["dt"], index=False)
    config = TrainingConfig(max_rounds=5, nthread=1, threshold_rule="best_f1")
    metas = train_feature_sets(tmp_path / "ts", tmp_path / "m", ("merchant-risk", "anchor"), config)
    scores = {m.feature_set: m.metrics["test_pr_auc"] for m in metas}
    assert scores["merchant-risk"] > scores["anchor"]
    assert registry.load_metadata(tmp_path / "m").feature_set == "merchant-risk"  # was: anchor, the last trained
    train_feature_sets(tmp_path / "ts", tmp_path / "m", ("merchant-risk", "anchor"), config, latest="anchor")
    assert registry.load_metadata(tmp_path / "m").feature_set == "anchor"  # an explicit choice still wins


def test_a_tie_on_the_held_out_test_serves_the_simpler_set() -> None:
    from fraudstream.model.pipeline import TIE_TOLERANCE, held_out_winner
    from fraudstream.model.registry import ModelMetadata

    def meta(feature_set: str, ap: float) -> ModelMetadata:
        names = list(F.model_input_names(feature_set))
        return ModelMetadata(
            version=f"v-{feature_set}",
            feature_set=feature_set,
            feature_names=names,
            threshold=0.5,
            threshold_rule="best_f1",
            training_window={},
            data_hash="x",
            metrics={"test_pr_auc": ap},
            created_at="2020-01-01T00:00:00Z",
        )

    sets = ["merchant-risk-v2", "extended", "anchor"]
    assert held_out_winner([meta(s, 0.7) for s in sets]).feature_set == "anchor"
    close = [meta("merchant-risk-v2", 0.7), meta("extended", 0.7 - TIE_TOLERANCE / 2), meta("anchor", 0.5)]
    assert held_out_winner(close).feature_set == "extended"
    apart = [meta("merchant-risk-v2", 0.7), meta("extended", 0.7 - 2 * TIE_TOLERANCE), meta("anchor", 0.5)]
    assert held_out_winner(apart).feature_set == "merchant-risk-v2"
