"""Label delay: ``labelled_at`` is after the transaction by the configured delay."""

from __future__ import annotations

import numpy as np

from fraudstream.generator.labels import labelled_at_ms
from fraudstream.generator.profiles import DAY_MS


def test_fraud_labels_arrive_within_the_range_and_legit_ones_at_maturity() -> None:
    rng = np.random.default_rng(0)
    times = np.sort(rng.integers(0, 90 * DAY_MS, size=20_000))
    fraud = rng.random(times.size) < 0.1
    known = labelled_at_ms(rng, times, fraud, (2.0, 5.0), 10.0)
    delay = known - times
    assert (delay[~fraud] == 10 * DAY_MS).all()
    assert delay[fraud].min() >= 2 * DAY_MS and delay[fraud].max() <= 5 * DAY_MS
    assert delay[fraud].std() > 0.5 * DAY_MS  # spread over the range, not one value


def test_zero_delay_means_known_at_once() -> None:
    times = np.arange(0, 10 * DAY_MS, DAY_MS)
    known = labelled_at_ms(np.random.default_rng(1), times, times % 2 == 0, (0.0, 0.0), 0.0)
    assert (known == times).all()
