"""Training stores each input's reference distribution in the registry, which the monitor reads back."""

from __future__ import annotations

import pytest

from fraudstream.model import registry
from fraudstream.model.reference import REFERENCE_KEY
from fraudstream.monitor.service import load_references

pytestmark = pytest.mark.slow


def test_every_model_input_has_a_reference(trained_model_dir) -> None:
    for meta in registry.list_versions(trained_model_dir):
        refs = (meta.model_extra or {})[REFERENCE_KEY]
        assert set(refs) == set(meta.feature_names)
        for name, ref in refs.items():
            assert 1 <= len(ref["edges"]) <= 9, name
            assert sum(ref["shares"]) + ref["missing"] == pytest.approx(1.0)
            assert ref["rows"] > 100
        assert load_references(trained_model_dir, meta.version) == refs
    assert load_references(trained_model_dir, "no-such-version")  # falls back to latest
