"""Hand-built transaction files for the batch tests (written like the generator writes them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

MS = timedelta(milliseconds=1)


def utc(text: str) -> datetime:
    """``2020-01-10 12:00:00`` (optionally with .fff) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_transactions(path: Path, rows: Sequence[tuple[str, str, datetime, float]], label_tids=()) -> str:
    """Parquet of (tid, cc_num, trans_time, amount) rows, labelled fraud when tid in ``label_tids``."""
    frame = pd.DataFrame(rows, columns=["tid", "cc_num", "trans_time", "amount"])
    frame["trans_time"] = pd.to_datetime(frame["trans_time"], utc=True).astype("datetime64[ms, UTC]")
    frame["fraud_label"] = frame["tid"].isin(set(label_tids)).astype("int8")
    frame = frame.sort_values(["trans_time", "tid"]).reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return str(path)


def random_transactions(path: Path, cards: int = 40, days: int = 24, rows: int = 4000, seed: int = 7) -> str:
    """Random traffic with bursts (many rows share 10-minute windows) over ``days`` from 2020-01-01."""
    rng = np.random.default_rng(seed)
    card_ids = [f"4{rng.integers(10**14, 10**15):015d}" for _ in range(cards)]
    start = pd.Timestamp("2020-01-01", tz="UTC")
    offsets_ms = rng.integers(0, days * 86_400_000, size=rows)
    # bursts: a quarter of the rows follow another row of the same card within seconds
    burst = rng.random(rows) < 0.25
    card_of = rng.integers(0, cards, size=rows)
    for i in np.flatnonzero(burst)[1:]:
        card_of[i] = card_of[i - 1]
        offsets_ms[i] = offsets_ms[i - 1] + int(rng.integers(1_000, 120_000))
    amounts = np.round(rng.choice([0.5, 5.0, 50.0, 500.0, 5000.0], size=rows) * rng.random(rows) + 0.01, 2)
    frame = pd.DataFrame(
        {
            "tid": [f"t{i:06d}" for i in range(rows)],
            "cc_num": [card_ids[c] for c in card_of],
            "trans_time": start + pd.to_timedelta(offsets_ms, unit="ms"),
            "amount": amounts,
            "fraud_label": (rng.random(rows) < 0.02).astype("int8"),
        }
    )
    frame["trans_time"] = frame["trans_time"].astype("datetime64[ms, UTC]")
    frame.sort_values(["trans_time", "tid"]).to_parquet(path, index=False)
    return str(path)


RICH_AS_OF = date(2020, 2, 8)  # day 38: the quiet merchant (day 0) and quiet card (day 7) just expired
QUIET_MERCHANT, QUIET_CARD = "m-quiet", "4999999999999999"


def rich_transactions(path: Path) -> str:
    """40 days of 30 cards at 6 merchants, with labels given up to 14 days late (some never): every
    nightly group has keys, and on ``RICH_AS_OF`` one merchant and one card have just expired."""
    rng = np.random.default_rng(150)
    n = 1600
    times = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 40 * 86_400_000, size=n)), unit="ms"
    )
    fraud = rng.random(n) < 0.2
    labelled = times + pd.to_timedelta(rng.integers(0, 14 * 86_400_000, size=n), unit="ms")
    frame = pd.DataFrame(
        {
            "tid": [f"t{i:05d}" for i in range(n)],
            "cc_num": [f"40000000000000{c:02d}" for c in rng.integers(0, 30, size=n)],
            "merchant": [f"m-{m}" for m in rng.integers(0, 6, size=n)],
            "trans_time": times,
            "amount": np.round(rng.choice([1.0, 20.0, 300.0], size=n) * rng.random(n) + 0.01, 2),
            "fraud_label": fraud.astype("int8"),
            "labelled_at": labelled.where(rng.random(n) > 0.05),  # some labels never arrive
        }
    )
    frame.loc[0, ["merchant", "fraud_label"]] = [QUIET_MERCHANT, 1]  # its only row, on day 0
    day7 = frame.index[frame.trans_time.dt.day == 8][0]
    frame.loc[day7, "cc_num"] = QUIET_CARD  # its only row, on day 7
    for col in ("trans_time", "labelled_at"):
        frame[col] = frame[col].astype("datetime64[ms, UTC]")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return str(path)
