"""A live slice of the generated traffic, re-timed to now, as a replay plan.

The slice is the last ``n`` transactions of the data file (the newest day or so), shifted so that
it ends now: the original spacing is kept (compressing time would change every 10-minute
feature), and the events sit in the past, so the seed scenario that follows at "now" is never
behind the watermark. Events are never put in the future (that would push the Flink job's
watermark ahead of the clock and make later "now" traffic late): when an earlier run already sent
events later than ``now - span`` (a re-run within the span), the slice is trimmed to the part
that fits after them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fraudstream.replay.plan import PlannedTransaction, ReplayPlan, new_run_id

LIVE_COLUMNS = ["tid", "trans_time", "cc_num", "amount", "fraud_label"]


def read_tail(path: str | Path, n: int):
    """The last ``n`` rows (by time) of a generated transactions file as a pandas DataFrame."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix.lower() == ".csv":
        import pandas as pd

        frame = pd.read_csv(path, usecols=LIVE_COLUMNS, parse_dates=["trans_time"], dtype={"cc_num": str, "tid": str})
    else:
        frame = pq.read_table(path, columns=LIVE_COLUMNS).to_pandas()
    frame = frame.sort_values("trans_time", kind="stable").tail(n).reset_index(drop=True)
    frame["trans_time"] = _as_utc(frame["trans_time"])
    return frame


def _as_utc(series):
    import pandas as pd

    series = pd.to_datetime(series)
    return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")


def fit_slice(frame, now: datetime, latest_event_time: datetime | None, margin: timedelta = timedelta(seconds=1)):
    """``(rows, start)``: the rows of ``frame`` that fit in ``(latest_event_time + margin, now]`` once
    the slice is shifted to end at ``now``, and the re-timed time of the first kept row."""
    last = frame["trans_time"].iloc[-1].to_pydatetime()
    shift = now.astimezone(UTC) - last
    kept = frame
    if latest_event_time is not None:
        kept = frame[frame["trans_time"] + shift >= latest_event_time + margin].reset_index(drop=True)
    if kept.empty:
        return kept, now
    return kept, kept["trans_time"].iloc[0].to_pydatetime() + shift


def plan_live_slice(frame, start: datetime, rate_per_s: float, run_id: str | None = None) -> ReplayPlan:
    """Transactions of ``frame`` shifted to begin at ``start``, sent at ``rate_per_s`` (0 = as fast as possible)."""
    run_id = run_id or new_run_id()
    first = frame["trans_time"].iloc[0].to_pydatetime()
    shift = start.astimezone(UTC) - first
    txs = []
    for i, row in enumerate(frame.itertuples(index=False)):
        txs.append(
            PlannedTransaction(
                index=i,
                tid=f"live-{run_id}-{row.tid}",
                cc_num=str(row.cc_num),
                card=str(row.cc_num),
                amount=round(float(row.amount), 2),
                event_time=row.trans_time.to_pydatetime() + shift,
                send_offset_s=i / rate_per_s if rate_per_s > 0 else 0.0,
                role="attack" if int(row.fraud_label) else "normal",
            )
        )
    return ReplayPlan(name="live-traffic", run_id=run_id, transactions=txs)
