"""Load a training set and split it by time, as the anchor evaluated (no shuffling).

A training set is the batch job's Parquet directory (``dt`` partitions), or one Parquet or CSV
file written by anything else (pandas included: nanosecond timestamps are fine here, the reader
is pyarrow, not Spark). The split trains on earlier days, validates on later ones and tests on the
last ones; ``gap_days`` drops the days just before validation and before test, so that a model is
judged as it would be deployed when labels arrive late (a chargeback ``gap_days`` after the sale).

The model inputs are recomputed from the window features with ``features.compute_model_inputs``,
the same function the scorer calls, so training rows and serving rows cannot disagree.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudstream import features as F

LABEL = "fraud_label"
CHAIN_POSITION = "chain_position"
RAW_COLUMNS: tuple[str, ...] = (
    "tid",
    "trans_time",
    "amount",
    LABEL,
    "attack_id",
    *F.STREAM_FEATURES,
    *F.BATCH_FEATURES,
    *F.CARD_WINDOW_FEATURES,
    *F.CARD_AMOUNT_PROFILE,
    *F.MERCHANT_FEATURES,
)
"""Columns the trainer reads (the model inputs are derived from these)."""


def _ts(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """A UTC timestamp without tz info (the training set's ``trans_time`` is normalised the same way)."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


@dataclass(frozen=True)
class TimeSplit:
    """Half-open periods: train [train_start, validation_start - gap), validation [validation_start,
    test_start - gap), test [test_start, test_end), with gap = ``gap_days``. The defaults are the
    anchor's split: train and validation strictly inside 2020-01-15 .. 2020-05-15 (validation = its
    last two weeks), test after, no gap. With a label delay of d days, a gap of d days keeps out
    of each period the labels its model could not have known yet."""

    train_start: pd.Timestamp = pd.Timestamp("2020-01-15")
    validation_start: pd.Timestamp = pd.Timestamp("2020-05-01")
    test_start: pd.Timestamp = pd.Timestamp("2020-05-15")
    test_end: pd.Timestamp | None = None
    gap_days: float = 0.0

    @property
    def gap(self) -> pd.Timedelta:
        return pd.Timedelta(days=self.gap_days)

    def __post_init__(self) -> None:
        for name in ("train_start", "validation_start", "test_start", "test_end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _ts(value))
        if not self.train_start < self.validation_start < self.test_start:
            raise ValueError(f"time split out of order: {self.to_dict()}")
        if self.gap_days < 0:
            raise ValueError(f"gap_days must be >= 0, got {self.gap_days}")
        if not (
            self.train_start < self.validation_start - self.gap and self.validation_start < self.test_start - self.gap
        ):
            raise ValueError(f"a gap of {self.gap_days} days leaves a period empty: {self.to_dict()}")
        if self.test_end is not None and self.test_end <= self.test_start:
            raise ValueError(f"test_end must follow test_start: {self.to_dict()}")

    @classmethod
    def for_span(
        cls,
        first: datetime | pd.Timestamp,
        last: datetime | pd.Timestamp,
        warmup: timedelta = F.BATCH_WINDOW,
        validation_fraction: float = 0.2,
        test_fraction: float = 0.25,
        gap_days: float = 0.0,
    ) -> TimeSplit:
        """A proportional split for data that does not cover the anchor's dates (small test data):
        skip the first week (no 1-week history yet), then train / validation / test by fractions."""
        start = _ts(first).normalize() + warmup
        end = _ts(last)
        usable = end - start
        test_start = end - usable * test_fraction
        validation_start = test_start - usable * validation_fraction
        return cls(start, validation_start.floor("h"), test_start.floor("h"), None, gap_days)

    def to_dict(self) -> dict[str, str | float | None]:
        out: dict[str, str | float | None] = {
            k: (None if v is None else pd.Timestamp(v).isoformat()) for k, v in asdict(self).items() if k != "gap_days"
        }
        out["gap_days"] = float(self.gap_days)
        return out


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


EVALUATION_COLUMNS: tuple[str, ...] = ("cc_num", "attack_kind")
"""Read when present: card precision@100 per day and recall by fraud kind (never model inputs)."""


def is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def _dataset(path: Path) -> Any:
    """A pyarrow dataset over a Parquet directory (hive ``dt`` partitions), a Parquet file or a CSV file."""
    import pyarrow.dataset as ds

    if is_csv(path):
        return ds.dataset(path, format="csv")
    return ds.dataset(path, format="parquet", partitioning="hive" if path.is_dir() else None)


def load_training_set(path: str | Path) -> pd.DataFrame:
    """Read a training set (see the module doc), sorted by time, with ``trans_time`` as naive UTC
    (any unit, any zone; text is parsed) and ``chain_position`` (1, 2, … within an attack, 0 otherwise)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"training set not found: {path}")
    dataset = _dataset(path)
    present = set(dataset.schema.names)
    wanted = [c for c in (*RAW_COLUMNS, *EVALUATION_COLUMNS) if c in present]
    missing = {"trans_time", "amount", LABEL} - present
    if missing:
        raise ValueError(f"training set {path} lacks required columns {sorted(missing)}; it has {sorted(present)}")
    extra_inputs = [c for c in F.EXTENDED_INPUTS if c in present and c not in wanted]
    frame = dataset.to_table(columns=wanted + extra_inputs).to_pandas()
    frame["trans_time"] = _naive_utc(frame["trans_time"], path)
    frame = frame.sort_values("trans_time", kind="stable").reset_index(drop=True)
    frame[LABEL] = frame[LABEL].astype(np.int8)
    frame[CHAIN_POSITION] = chain_positions(frame)
    return frame


def _naive_utc(tt: pd.Series, path: Path) -> pd.Series:
    """``trans_time`` as naive UTC nanoseconds: tz-aware values are converted, naive ones are UTC."""
    if not pd.api.types.is_datetime64_any_dtype(tt):
        try:
            tt = pd.to_datetime(tt, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"training set {path}: trans_time is not a time ({exc})") from None
    if getattr(tt.dt, "tz", None) is not None:
        tt = tt.dt.tz_convert("UTC").dt.tz_localize(None)
    return tt.astype("datetime64[ns]")


def chain_positions(frame: pd.DataFrame) -> np.ndarray:
    """1-based position of each row inside its attack chain (by ``trans_time``), 0 for no attack."""
    out = np.zeros(len(frame), dtype=np.int16)
    if "attack_id" not in frame:
        return out
    attack = frame["attack_id"]
    mask = attack.notna().to_numpy() & (attack.astype(str) != "").to_numpy()
    if mask.any():
        sub = frame.loc[mask, ["attack_id", "trans_time"]].sort_values(["attack_id", "trans_time"], kind="stable")
        out[sub.index.to_numpy()] = sub.groupby("attack_id", sort=False).cumcount().to_numpy() + 1
    return out


def split_by_time(frame: pd.DataFrame, split: TimeSplit) -> Splits:
    """Cut the (time-sorted) frame into train / validation / test periods."""
    t = frame["trans_time"]
    train = frame[(t >= split.train_start) & (t < split.validation_start - split.gap)]
    validation = frame[(t >= split.validation_start) & (t < split.test_start - split.gap)]
    test_mask = t >= split.test_start
    if split.test_end is not None:
        test_mask &= t < split.test_end
    parts = Splits(train, validation, frame[test_mask])
    for name in ("train", "validation", "test"):
        part = getattr(parts, name)
        if len(part) == 0 or part[LABEL].sum() == 0:
            raise ValueError(
                f"{name} period {split.to_dict()} has {len(part)} rows and "
                f"{int(part[LABEL].sum()) if len(part) else 0} frauds; adjust the split"
            )
    return parts


def feature_matrix(frame: pd.DataFrame, feature_set: str) -> np.ndarray:
    """Model inputs of ``feature_set`` in order, through the one feature function."""
    names = F.model_input_names(feature_set)
    raw = ("amount", *F.STREAM_FEATURES, *F.BATCH_FEATURES)
    if all(c in frame for c in raw):
        return F.compute_model_inputs(
            frame["amount"].to_numpy(float),
            frame[F.NUM_TRANS_LAST_10M].to_numpy(float),
            frame[F.AVG_AMT_LAST_10M].to_numpy(float),
            frame[F.NUM_TRANS_LAST_1W].to_numpy(float),
            frame[F.AVG_AMT_LAST_1W].to_numpy(float),
            frame[F.MAX_AMT_LAST_10M].to_numpy(float),
            feature_set,
            nightly={n: frame[n].to_numpy(float) for n in F.NIGHTLY_INPUTS if n in frame},
        )
    if all(c in frame for c in names):  # a training set that carries only the inputs
        return frame[list(names)].to_numpy(float)
    raise ValueError(f"training set lacks the window features needed for {feature_set!r}: {raw}")


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[LABEL].to_numpy(np.int8)


def data_hash(path: str | Path) -> str:
    """sha256 over the relative names and bytes of every Parquet file: identifies the training data."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*.parquet")) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()
