"""Registry: versions, latest pointer, round trip of booster and metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudstream.model import registry


@pytest.fixture(scope="module")
def tiny_booster():
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] + x[:, 3] > 1).astype(int)
    return xgb.train({"objective": "binary:logistic", "tree_method": "hist", "seed": 1}, xgb.DMatrix(x, y), 10)


def _save(model_dir: Path, booster, feature_set: str = "anchor", **kw) -> registry.ModelMetadata:
    return registry.save_model(
        model_dir,
        booster,
        feature_set=feature_set,
        feature_names=["amount", "amt_ratio1", "amt_ratio2", "count_ratio"],
        threshold=0.42,
        threshold_rule="best_f1",
        training_window={"train_start": "2020-01-15"},
        data_hash="sha256:abc",
        metrics={"test_pr_auc": 0.7},
        report={"pr_auc": 0.7},
        **kw,
    )


def test_save_list_load_and_latest(tmp_path: Path, tiny_booster) -> None:
    first = _save(tmp_path, tiny_booster)
    second = _save(tmp_path, tiny_booster, feature_set="extended")
    third = _save(tmp_path, tiny_booster, make_latest=False)
    assert len({first.version, second.version, third.version}) == 3
    assert [m.version for m in registry.list_versions(tmp_path)] == [first.version, second.version, third.version]
    assert registry.latest_version(tmp_path) == second.version
    files = {p.name for p in (tmp_path / first.version).iterdir()}
    assert {"model.ubj", "metadata.json", "report.json"} <= files
    meta = registry.load_metadata(tmp_path, first.version)
    assert meta.threshold == 0.42 and meta.feature_names[0] == "amount" and "xgboost" in meta.library_versions
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    loaded = registry.load_booster(tmp_path, first.version)
    np.testing.assert_array_equal(loaded.inplace_predict(x), tiny_booster.inplace_predict(x))
    registry.set_latest(tmp_path, first.version)
    assert registry.load_metadata(tmp_path).version == first.version
    assert registry.load_report(tmp_path)["pr_auc"] == 0.7


def test_single_version_directory_is_a_model(tmp_path: Path, tiny_booster) -> None:
    meta = _save(tmp_path / "registry", tiny_booster)
    single = tmp_path / "registry" / meta.version
    assert registry.resolve_version_dir(single) == single
    assert registry.load_metadata(single).version == meta.version
    assert [m.version for m in registry.list_versions(single)] == [meta.version]


def test_unknown_version_and_empty_registry_say_so(tmp_path: Path, tiny_booster) -> None:
    with pytest.raises(registry.ModelNotFoundError, match="no model in"):
        registry.load_metadata(tmp_path)
    assert registry.latest_version(tmp_path) is None
    _save(tmp_path, tiny_booster)
    with pytest.raises(registry.ModelNotFoundError, match="no model version 'v9'"):
        registry.load_booster(tmp_path, "v9")
    with pytest.raises(registry.ModelNotFoundError):
        registry.set_latest(tmp_path, "v9")
