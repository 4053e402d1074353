"""PSI against a hand-computed case, and the reference distribution stored at training time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.model.reference import bin_shares, input_reference, reference_distribution
from fraudstream.monitor.drift import DRIFT_THRESHOLD, drift_report, input_psi, psi


def test_psi_matches_a_hand_computed_case() -> None:
    expected = [0.25, 0.25, 0.5]
    actual = [0.5, 0.25, 0.25]
    by_hand = (0.5 - 0.25) * math.log(0.5 / 0.25) + 0 + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.3465736, rel=1e-6)
    assert psi(expected, expected) == 0.0


def test_psi_rejects_mismatched_bins() -> None:
    with pytest.raises(ValueError, match="bin counts differ"):
        psi([0.5, 0.5], [1.0])


def test_bins_count_missing_apart() -> None:
    shares, missing = bin_shares(np.array([1.0, 2.0, np.nan, 5.0]), [1.5, 3.0])
    assert shares == [0.25, 0.25, 0.25] and missing == 0.25


def test_same_distribution_is_stable_and_tenfold_amounts_drift() -> None:
    rng = np.random.default_rng(7)
    train = rng.lognormal(3.5, 1.0, 20_000)
    ref = input_reference(train)
    assert len(ref["edges"]) == 9 and sum(ref["shares"]) == pytest.approx(1.0)
    assert input_psi(ref, rng.lognormal(3.5, 1.0, 5000)) < 0.05
    assert input_psi(ref, 10 * rng.lognormal(3.5, 1.0, 5000)) > DRIFT_THRESHOLD


def test_drift_report_flags_only_the_shifted_input() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(0, 1, 10_000), rng.normal(5, 2, 10_000)])
    refs = reference_distribution(x, ["a", "b"])
    report = drift_report(refs, {"a": rng.normal(0, 1, 3000), "b": rng.normal(9, 2, 3000)})
    assert report["a"]["drifted"] is False and report["b"]["drifted"] is True
