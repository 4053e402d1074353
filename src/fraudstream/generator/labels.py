"""Label delay (rich profile): when each transaction's label became known (``labelled_at``).

Chargebacks arrive late. The rule: a fraud label is known a uniform random time between
``fraud_label_delay_days`` = (min, max) days after the transaction (default 1-14 days, to the
millisecond); a legitimate label is known at a fixed maturity, ``legit_label_delay_days`` after
it (default 7 days: no chargeback by then counts as "not fraud"). ``labelled_at`` may fall
after the generated period; a point-in-time reader then simply does not know that label yet.
"""

from __future__ import annotations

import numpy as np

from fraudstream.generator.profiles import DAY_MS


def labelled_at_ms(
    rng: np.random.Generator,
    times_ms: np.ndarray,
    is_fraud: np.ndarray,
    fraud_delay_days: tuple[float, float],
    legit_delay_days: float,
) -> np.ndarray:
    """Epoch milliseconds at which each row's label is known (``times_ms`` plus its delay)."""
    known = times_ms + round(legit_delay_days * DAY_MS)
    fraud = np.flatnonzero(is_fraud)
    low, high = (round(d * DAY_MS) for d in fraud_delay_days)
    known[fraud] = times_ms[fraud] + rng.integers(low, high, size=fraud.size, endpoint=True)
    return known
