"""The retraining path end to end on local files (real Spark training set, real XGBoost): the
candidate and the current model are reported on the same rows, and ``latest`` moves only on a win."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from fraudstream.model import registry
from fraudstream.model.retrain import CANDIDATE_TARBALL, RESULT_FILE, retrain_config, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def weak_registry(model_training_set_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose ``latest`` is an anchor model cut at 2 boosting rounds: easy to beat (best_f1:
    so weak a model reaches no business rule's precision)."""
    from fraudstream.model.pipeline import train_feature_sets
    from fraudstream.model.training import TrainingConfig

    model_dir = tmp_path_factory.mktemp("weak-models")
    train_feature_sets(
        model_training_set_path,
        model_dir,
        ("anchor",),
        TrainingConfig(max_rounds=2, nthread=1, threshold_rule="best_f1"),
    )
    return model_dir


def _result(out: Path) -> dict:
    return json.loads((out / RESULT_FILE).read_text())


def _copy(models: Path, tmp_path: Path) -> Path:
    """A copy of the module's registry, so each test promotes into its own."""
    target = tmp_path / "models"
    shutil.copytree(models, target, symlinks=True)
    return target


def test_a_better_candidate_is_promoted_into_the_registry(weak_registry, model_training_set_path, tmp_path):
    models = _copy(weak_registry, tmp_path)
    before = registry.latest_version(models)
    decision = run(model_training_set_path, models, tmp_path / "out", overrides={"max_rounds": 40}, promote_into=models)
    result = _result(tmp_path / "out")
    assert decision.promote and result["decision"]["promote"]
    cand, cur = result["candidate"]["report"], result["current"]["report"]
    assert cand["period"] == cur["period"] and cand["rows"] == cur["rows"] and cand["frauds"] == cur["frauds"]
    assert cand["pr_auc"] > cur["pr_auc"]
    assert set(cur) >= {"pr_auc", "roc_auc", "at_threshold", "recall_by_chain_position"}
    assert "card_precision_at_100" in cand and "card_precision_at_100" in cur  # the same honest report
    assert result["current"]["version"] == before
    after = registry.load_metadata(models)
    assert after.version == result["candidate"]["version"] != before
    assert after.model_extra["training_config"]["max_rounds"] == 40
    with tarfile.open(tmp_path / "out" / CANDIDATE_TARBALL) as tar:  # what the endpoint would load
        assert json.load(tar.extractfile("metadata.json"))["version"] == after.version


def test_the_same_recipe_on_the_same_data_ties_and_keeps_the_current_model(
    weak_registry, model_training_set_path, tmp_path
):
    """The current model retrained from its own recipe and data: equal PR-AUC, no promotion; the
    current model given as the endpoint's model.tar.gz works like a registry."""
    from fraudstream.deploy.package import build_model_tarball

    models = _copy(weak_registry, tmp_path)
    build_model_tarball(tmp_path, models)
    latest = registry.latest_version(models)
    decision = run(model_training_set_path, tmp_path / "model.tar.gz", tmp_path / "out", promote_into=models)
    assert not decision.promote and "does not beat" in decision.reason
    assert decision.candidate["pr_auc"] == pytest.approx(decision.current["pr_auc"])
    assert registry.latest_version(models) == latest and len(registry.list_versions(models)) == 1


def test_overrides_are_checked_against_the_training_settings():
    config = retrain_config({"feature_set": "extended", "training_config": {"max_rounds": 7, "gone": 1}})
    assert config.feature_set == "extended" and config.max_rounds == 7
    assert retrain_config({"feature_set": "anchor"}, {"max_rounds": 9}).max_rounds == 9
    with pytest.raises(ValueError, match="unknown training settings"):
        retrain_config({"feature_set": "anchor"}, {"max_round": 9})
