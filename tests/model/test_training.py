"""Training on the batch training set of the small generated data (real Spark, real XGBoost)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fraudstream import features as F
from fraudstream.cli.main import app
from fraudstream.model import registry
from fraudstream.model.dataset import feature_matrix, load_training_set
from fraudstream.model.threshold import DEFAULT_RULE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPORT_FIGURES = ("pr_auc", "roc_auc", "at_threshold", "at_0_5", "recall_by_chain_position", "validation", "period")


def test_both_feature_sets_registered_and_latest_is_extended(trained_model_dir: Path) -> None:
    versions = registry.list_versions(trained_model_dir)
    assert sorted(m.feature_set for m in versions) == ["anchor", "extended"]
    latest = registry.load_metadata(trained_model_dir)
    assert latest.feature_set == "extended"
    assert latest.feature_names == list(F.model_input_names("extended"))
    for meta in versions:
        assert 0.0 < meta.threshold < 1.0 and meta.threshold_rule == DEFAULT_RULE
        stability = meta.model_extra["threshold_stability"]
        assert stability["threshold"]["p05"] <= meta.threshold <= stability["threshold"]["p95"]
        assert meta.data_hash.startswith("sha256:") and meta.training_window["test_start"]
        assert {"model.ubj", "metadata.json", "report.json", "pr_curve.png"} <= {
            p.name for p in registry.resolve_version_dir(trained_model_dir, meta.version).iterdir()
        }


@pytest.mark.parametrize("feature_set", ["anchor", "extended"])
def test_model_beats_the_trivial_baseline_on_its_test_period(trained_model_dir: Path, feature_set: str) -> None:
    meta = next(m for m in registry.list_versions(trained_model_dir) if m.feature_set == feature_set)
    report = registry.load_report(trained_model_dir, meta.version)
    for key in REPORT_FIGURES:
        assert key in report, key
    cm = report["at_threshold"]["confusion"]
    assert sum(cm.values()) == report["rows"] and cm["tp"] + cm["fn"] == report["frauds"] > 20
    # a constant score has PR-AUC = fraud share (~1 % here) and ROC-AUC 0.5
    assert report["pr_auc"] > 10 * report["fraud_share"]
    assert report["pr_auc"] > 0.3 and report["roc_auc"] > 0.8
    cp = report["card_precision_at_100"]
    assert cp["per_day"] and cp["mean"] == pytest.approx(np.mean([d["card_precision"] for d in cp["per_day"]]))
    assert report["recall_by_fraud_kind"]["at_0_5"], "the generated data names its fraud kind"
    by_position = {r["position"]: r["recall"] for r in report["recall_by_chain_position"]["at_threshold"]}
    assert by_position[1] < 0.5 and min(by_position[p] for p in by_position if p >= 5) > 0.7
    png = registry.resolve_version_dir(trained_model_dir, meta.version) / "pr_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_set_inputs_are_the_shared_feature_function(model_training_set_path: Path) -> None:
    """The batch job's stored inputs equal what the trainer (and the scorer) compute from the windows."""
    frame = load_training_set(model_training_set_path)
    for feature_set in ("anchor", "extended"):
        names = list(F.model_input_names(feature_set))
        stored = frame[names].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(stored), np.isnan(feature_matrix(frame, feature_set)))
        np.testing.assert_allclose(stored, feature_matrix(frame, feature_set), rtol=0, atol=0, equal_nan=True)


def test_models_cli_lists_shows_and_promotes(trained_model_dir: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--model-dir", str(trained_model_dir)])
    assert listed.exit_code == 0, listed.output
    anchor = next(m for m in registry.list_versions(trained_model_dir) if m.feature_set == "anchor")
    shown = runner.invoke(app, ["models", "show", anchor.version, "--model-dir", str(trained_model_dir), "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    assert doc["metadata"]["version"] == anchor.version and doc["report"]["pr_auc"] > 0
    missing = runner.invoke(app, ["models", "show", "nope", "--model-dir", str(trained_model_dir)])
    assert missing.exit_code == 2


def test_train_cli_on_the_training_set(model_training_set_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train",
            "--training-set",
            str(model_training_set_path),
            "--model-dir",
            str(tmp_path),
            "--feature-set",
            "anchor",
            "--max-rounds",
            "30",
            "--nthread",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert registry.load_metadata(tmp_path).feature_set == "anchor"
    bad = runner.invoke(app, ["train", "--training-set", str(tmp_path / "none"), "--model-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "not found" in bad.output
