"""Where the scorer's feature set, threshold and model version come from (documented precedence)."""

from __future__ import annotations

import numpy as np
import pytest

from fraudstream.endpoint_client import EndpointError, EndpointResult
from fraudstream.handlers.scoring_config import ScoringConfig
from fraudstream.settings import Settings


@pytest.fixture
def registry_dir(tmp_path):
    import xgboost as xgb

    from fraudstream import features as F
    from fraudstream.model.registry import save_model

    x = np.arange(60, dtype=float).reshape(10, 6)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=[0, 1] * 5), 2)
    names = list(F.model_input_names("extended"))
    save_model(
        tmp_path,
        booster,
        feature_set="extended",
        feature_names=names,
        threshold=0.37,
        threshold_rule="t",
        training_window={},
        data_hash="h",
    )
    return tmp_path


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch):
    monkeypatch.delenv("FRAUDSTREAM_THRESHOLD", raising=False)
    monkeypatch.delenv("FRAUDSTREAM_FEATURE_SET", raising=False)


def test_without_registry_the_endpoint_answer_decides(tmp_path) -> None:
    config = ScoringConfig(Settings(model_dir=tmp_path / "none"))
    assert config.feature_set() == "anchor"
    v = config.verdict(EndpointResult([0.2], "v9", 0.81, "anchor"), "anchor")
    assert (v.threshold, v.model_version, v.feature_set) == (0.81, "v9", "anchor")
    bare = config.verdict(EndpointResult([0.2]), "anchor")
    assert (bare.threshold, bare.model_version) == (0.5, "unknown")


def test_registry_metadata_then_endpoint_then_env(registry_dir, monkeypatch) -> None:
    config = ScoringConfig(Settings(model_dir=registry_dir))
    assert config.feature_set() == "extended"
    from_meta = config.verdict(EndpointResult([0.2]), "extended")
    assert from_meta.threshold == 0.37 and from_meta.model_version.startswith("20")
    assert config.verdict(EndpointResult([0.2], "served", 0.6, "extended"), "extended").threshold == 0.6
    monkeypatch.setenv("FRAUDSTREAM_THRESHOLD", "0.9")
    monkeypatch.setenv("FRAUDSTREAM_FEATURE_SET", "anchor")
    config = ScoringConfig(Settings(model_dir=registry_dir))  # the settings read the environment
    assert config.feature_set() == "anchor"
    assert config.verdict(EndpointResult([0.2], "served", 0.6, "anchor"), "anchor").threshold == 0.9


def test_mismatches_and_bad_overrides_fail_loudly(tmp_path, monkeypatch) -> None:
    config = ScoringConfig(Settings(model_dir=tmp_path))
    with pytest.raises(EndpointError, match="feature set"):
        config.verdict(EndpointResult([0.2], "v", 0.5, "extended"), "anchor")
    monkeypatch.setenv("FRAUDSTREAM_FEATURE_SET", "fancy")
    with pytest.raises(KeyError, match="anchor"):
        ScoringConfig(Settings(model_dir=tmp_path)).feature_set()
    monkeypatch.setenv("FRAUDSTREAM_THRESHOLD", "2")
    with pytest.raises(ValueError, match="threshold"):  # pydantic's ValidationError names the setting
        Settings(model_dir=tmp_path)
