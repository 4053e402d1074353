"""The monitor's embedded on-disk store: predictions joined to labels by ``tid``, dead letters, offsets.

Why SQLite (not DuckDB): the monitor's writes are small upserts keyed by ``tid`` (a label replaces
an older one, a re-scored tid replaces its prediction) arriving a few hundred at a time, with a
reader (the HTTP thread) querying concurrently. SQLite does keyed upserts and many small
transactions cheaply, WAL mode lets a reader run beside the writer, it ships with Python (no extra
dependency), and the windows it aggregates (at most a day of a laptop stream) are small enough that
a columnar engine buys nothing.

No double counting after a restart: every batch of records is applied in ONE transaction together
with the next Kafka offset of each partition it came from; on start the consumer seeks to the
stored offsets, so a record is either applied with its offset or not at all.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    tid TEXT PRIMARY KEY,
    model_version TEXT NOT NULL,
    trans_time REAL NOT NULL,
    scored_at REAL NOT NULL,
    probability REAL NOT NULL,
    decision INTEGER NOT NULL,
    threshold REAL NOT NULL,
    batch_as_of REAL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_scored_at ON predictions (scored_at);
CREATE TABLE IF NOT EXISTS labels (
    tid TEXT PRIMARY KEY,
    is_fraud INTEGER NOT NULL,
    labelled_at REAL NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    source_topic TEXT NOT NULL,
    failed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_failed_at ON dead_letters (failed_at);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


@dataclass(frozen=True)
class PredictionRow:
    """The columns of one prediction the figures need (times in epoch seconds)."""

    tid: str
    model_version: str
    trans_time: float
    scored_at: float
    probability: float
    decision: bool
    threshold: float
    batch_as_of: float | None
    record: dict[str, Any]


@dataclass(frozen=True)
class LabelRow:
    tid: str
    is_fraud: bool
    labelled_at: float
    received_at: float


@dataclass(frozen=True)
class DeadLetterRow:
    stage: str
    reason: str
    source_topic: str
    failed_at: float


@dataclass
class Batch:
    """What one poll brought, to be applied atomically with ``offsets`` ((topic, partition) -> next offset)."""

    predictions: list[PredictionRow]
    labels: list[LabelRow]
    dead_letters: list[DeadLetterRow]
    offsets: dict[tuple[str, int], int]


FETCH_CHUNK = 4096
"""Rows turned into columns at a time: a refresh never holds more than this many row tuples."""


@dataclass(frozen=True)
class Joined:
    """Predictions joined to their latest label, one array per column (``nan``: none).

    Why columns: the refresh held its rows as Python tuples, ~400 bytes a row (a new string per
    tid and per model version, a float object per number), so every refresh of the 50,000-row cap
    put a ~20 MB spike on a ~120 MB process (the soak's +12.6 %). As arrays a row is ~50 bytes."""

    model_version: np.ndarray  # object: one shared string per version
    trans_time: np.ndarray
    scored_at: np.ndarray
    probability: np.ndarray
    decision: np.ndarray  # int8
    batch_as_of: np.ndarray
    is_fraud: np.ndarray  # 1.0, 0.0 or nan (no label yet)
    labelled_at: np.ndarray

    def __len__(self) -> int:
        return len(self.scored_at)

    def where(self, mask: np.ndarray) -> Joined:
        """The rows where ``mask`` holds."""
        return Joined(*(getattr(self, f.name)[mask] for f in fields(self)))

    @staticmethod
    def empty() -> Joined:
        return Joined(
            np.empty(0, dtype=object),
            *(np.empty(0) for _ in range(3)),
            np.empty(0, dtype=np.int8),
            *(np.empty(0) for _ in range(3)),
        )


class MonitorStore:
    """SQLite file (WAL) written by the consumer thread and read by the refresh and HTTP threads.

    Writes and reads go through two connections, each behind its own lock. Why: a refresh over a busy
    day reads for seconds, and with one shared connection the consumer waited on it; meanwhile its
    Kafka client kept fetching ahead (up to ``kafka_clients.PREFETCH_LIMITS`` a partition), so every
    refresh showed as a resident-size spike of ~15 MiB and a burst of ingest lag (30-minute soak at
    1,000 tx/s: +17.7 % over the monitor's median). In WAL mode a reader never blocks the writer: each
    read statement sees the store as of its start. An in-memory store (one database per connection)
    keeps a single connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        in_memory = str(path) == ":memory:"
        if not in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        if in_memory:
            self._read_lock, self._reader = self._lock, self._db
        else:
            self._read_lock = threading.Lock()
            self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._reader.execute("PRAGMA query_only=1")

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not self._db:
                self._reader.close()
        with self._lock:
            self._db.close()

    def offsets(self) -> dict[tuple[str, int], int]:
        """Next offset to read per (topic, partition), as last committed with the data."""
        with self._lock:
            rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets").fetchall()
        return {(t, p): o for t, p, o in rows}

    def apply(self, batch: Batch) -> None:
        """Apply one batch and its offsets in a single transaction (all or nothing)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(tid) DO UPDATE SET "
                    "model_version=excluded.model_version, trans_time=excluded.trans_time, "
                    "scored_at=excluded.scored_at, probability=excluded.probability, decision=excluded.decision, "
                    "threshold=excluded.threshold, batch_as_of=excluded.batch_as_of, record=excluded.record",
                    [
                        (
                            p.tid,
                            p.model_version,
                            p.trans_time,
                            p.scored_at,
                            p.probability,
                            int(p.decision),
                            p.threshold,
                            p.batch_as_of,
                            json.dumps(p.record),
                        )
                        for p in batch.predictions
                    ],
                )
                # latest label per tid wins (by labelled_at; a tie goes to the one read later)
                db.executemany(
                    "INSERT INTO labels VALUES (?,?,?,?) ON CONFLICT(tid) DO UPDATE SET "
                    "is_fraud=excluded.is_fraud, labelled_at=excluded.labelled_at, received_at=excluded.received_at "
                    "WHERE excluded.labelled_at >= labels.labelled_at",
                    [(lb.tid, int(lb.is_fraud), lb.labelled_at, lb.received_at) for lb in batch.labels],
                )
                db.executemany(
                    "INSERT INTO dead_letters (stage, reason, source_topic, failed_at) VALUES (?,?,?,?)",
                    [(d.stage, d.reason, d.source_topic, d.failed_at) for d in batch.dead_letters],
                )
                db.executemany(
                    "INSERT INTO offsets VALUES (?,?,?) ON CONFLICT(topic, partition) DO UPDATE SET "
                    "next_offset=excluded.next_offset",
                    [(t, p, o) for (t, p), o in batch.offsets.items()],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def enforce_retention(self, older_than: float) -> int:
        """Delete rows scored/failed before ``older_than`` (epoch s) and labels no prediction needs."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute("DELETE FROM predictions WHERE scored_at < ?", (older_than,))
            deleted = cur.rowcount
            db.execute("DELETE FROM dead_letters WHERE failed_at < ?", (older_than,))
            db.execute(
                "DELETE FROM labels WHERE received_at < ? AND tid NOT IN (SELECT tid FROM predictions)",
                (older_than,),
            )
            db.execute("COMMIT")
        return deleted

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Read-only query for the figures."""
        with self._read_lock:
            return self._reader.execute(sql, tuple(params)).fetchall()

    def joined_since(self, since: float, every: int = 1) -> list[tuple]:
        """(tid, model_version, trans_time, scored_at, probability, decision, threshold, batch_as_of,
        is_fraud or None, labelled_at or None) for predictions scored at or after ``since``; with
        ``every`` > 1 only every ``every``-th stored prediction (a systematic sample in arrival order)."""
        sample = " AND p.rowid % ? = 0" if every > 1 else ""
        return self.query(
            "SELECT p.tid, p.model_version, p.trans_time, p.scored_at, p.probability, p.decision, p.threshold, "
            "p.batch_as_of, l.is_fraud, l.labelled_at FROM predictions p LEFT JOIN labels l ON l.tid = p.tid "
            "WHERE p.scored_at >= ?" + sample,
            (since, every) if every > 1 else (since,),
        )

    def joined_columns(self, since: float, every: int = 1) -> Joined:
        """What :meth:`joined_since` reads (without the tid), as columns, read in chunks of
        :data:`FETCH_CHUNK` rows."""
        sample = " AND p.rowid % ? = 0" if every > 1 else ""
        sql = (
            "SELECT p.model_version, p.trans_time, p.scored_at, p.probability, p.decision, p.batch_as_of, "
            "l.is_fraud, l.labelled_at FROM predictions p LEFT JOIN labels l ON l.tid = p.tid "
            "WHERE p.scored_at >= ?" + sample
        )
        versions: dict[str, str] = {}
        parts: list[list[np.ndarray]] = []
        with self._read_lock:
            cursor = self._reader.execute(sql, (since, every) if every > 1 else (since,))
            while chunk := cursor.fetchmany(FETCH_CHUNK):
                columns = list(zip(*chunk, strict=True))
                version = np.array([versions.setdefault(v, v) for v in columns[0]], dtype=object)
                numbers = [np.array(c, dtype=float) for c in columns[1:]]
                numbers[3] = numbers[3].astype(np.int8)  # decision
                parts.append([version, *numbers])
                del chunk, columns
        if not parts:
            return Joined.empty()
        return Joined(*(np.concatenate(column) for column in zip(*parts, strict=True)))

    def inputs_since(self, since: float, limit: int, names: Iterable[str]) -> dict[str, np.ndarray]:
        """The served inputs ``names`` of the latest ``limit`` predictions, one array each (``nan``:
        missing), read from the stored records by SQLite's JSON functions, not parsed in Python."""
        names = list(names)
        if not names:
            return {}
        select = ", ".join(f"json_extract(record, '$.\"{n}\"')" for n in names)
        rows = self.query(
            f"SELECT {select} FROM predictions WHERE scored_at >= ? ORDER BY scored_at DESC LIMIT ?", (since, limit)
        )
        if not rows:
            return {}
        columns = list(zip(*rows, strict=True))
        return {
            n: np.array([v if isinstance(v, int | float) else None for v in c], dtype=float)
            for n, c in zip(names, columns, strict=True)
        }

    def counts_since(self, since: float) -> tuple[int, int]:
        """(predictions, positive decisions) scored at or after ``since``: exact, whatever is sampled."""
        ((n, flagged),) = self.query(
            "SELECT COUNT(*), COALESCE(SUM(decision), 0) FROM predictions WHERE scored_at >= ?", (since,)
        )
        return int(n), int(flagged)

    def records_since(self, since: float, limit: int) -> list[dict[str, Any]]:
        """The latest served records (newest first), for drift and the flagged table."""
        rows = self.query(
            "SELECT record FROM predictions WHERE scored_at >= ? ORDER BY scored_at DESC LIMIT ?", (since, limit)
        )
        return [json.loads(r[0]) for r in rows]

    def latest_flagged(self, limit: int) -> list[dict[str, Any]]:
        rows = self.query("SELECT record FROM predictions WHERE decision = 1 ORDER BY scored_at DESC LIMIT ?", (limit,))
        return [json.loads(r[0]) for r in rows]

    def dead_letter_counts(self, since: float) -> list[tuple[str, str, int]]:
        return self.query(
            "SELECT stage, reason, COUNT(*) FROM dead_letters WHERE failed_at >= ? GROUP BY stage, reason "
            "ORDER BY 3 DESC",
            (since,),
        )

    def totals(self) -> dict[str, int]:
        """Row counts (whole store): for tests and the restart check."""
        return {
            "predictions": self.query("SELECT COUNT(*) FROM predictions")[0][0],
            "labels": self.query("SELECT COUNT(*) FROM labels")[0][0],
            "dead_letters": self.query("SELECT COUNT(*) FROM dead_letters")[0][0],
        }
