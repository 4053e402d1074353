"""Where the producer's records come from: a generated file or JSON lines on stdin, as encoded batches.

Files are encoded column-wise with Arrow (one JSON string per row built in C++, no per-row
pydantic), which is what lets the producer reach 100k+ records/s. The JSON is the same record
that :func:`fraudstream.messages.encode` writes (same fields, order and time format; numbers in
their shortest form). Rows that would not decode as a :class:`~fraudstream.messages.Transaction`
(NaN, negative or absurd amount, bad card number, missing time) are split off with the
:class:`~fraudstream.messages.DecodeError` reason so that the caller dead-letters them.

A file with a ``merchant`` column (the rich profile) sends it on each transaction; one with a
``labelled_at`` column (label delay) stamps each label with it and gives the label its own due
time (``EncodedBatch.label_times_ms``), so that a replay by event time holds it back until then.
Without ``labelled_at`` a label is known at its transaction's time, as before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudstream.messages import (
    TRANSACTION_RULES,
    DecodeError,
    FieldRule,
    Label,
    Transaction,
    decode,
    encode,
    format_time,
)
from fraudstream.tokenise import tokenise_json_line, tokenise_table

BATCH_ROWS = 50_000
STDIN_BATCH_LINES = 5_000
SAFE_TEXT = r"^[A-Za-z0-9_.:\-]+$"
"""Ids made of these characters need no JSON escaping, so they can be spliced in column-wise."""


@dataclass
class Selection:
    """Which rows to send and how to stamp them: a time slice, a row limit, and optional retiming."""

    from_time: datetime | None = None
    to_time: datetime | None = None
    limit: int | None = None
    retime: bool = False
    now: datetime | None = None  # retime target; default: when the first row is selected
    shift_ms: int | None = field(default=None, init=False)
    selected: int = field(default=0, init=False)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.selected >= self.limit

    def take(self, count: int) -> int:
        """How many of ``count`` further rows fit under the limit (and count them as selected)."""
        room = count if self.limit is None else max(0, min(count, self.limit - self.selected))
        self.selected += room
        return room

    def shift_for(self, first_ms: int) -> int:
        """Milliseconds to add to event times: 0, or (when retiming) now minus the first selected time."""
        if self.shift_ms is None:
            if self.retime:
                now = self.now or datetime.now(UTC)
                self.shift_ms = int(now.timestamp() * 1000) - first_ms
            else:
                self.shift_ms = 0
        return self.shift_ms


@dataclass
class Rejected:
    """A record that cannot be sent, with where it came from and why."""

    offset: int | None
    error: str
    payload: str


@dataclass
class EncodedBatch:
    """Records ready for ``Producer.produce``: keys are ``cc_num``, one label per transaction."""

    keys: list[bytes]
    values: list[bytes]
    labels: list[bytes | None]
    times_ms: np.ndarray  # event time of each record, after retiming (drives --speedup pacing)
    rejected: list[Rejected] = field(default_factory=list)
    label_times_ms: np.ndarray | None = None  # when each label is known (after retiming); None: at times_ms

    def __len__(self) -> int:
        return len(self.values)


# --------------------------------------------------------------------------------------------
# Files (Parquet / CSV written by the generator)
# --------------------------------------------------------------------------------------------
def count_file_rows(path: str | Path) -> int | None:
    """Rows in a Parquet file from its footer (None for CSV: unknown without reading it)."""
    from fraudstream.generator.files import is_csv

    if is_csv(path):
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def file_batches(path: str | Path, selection: Selection, batch_rows: int = BATCH_ROWS) -> Iterator[EncodedBatch]:
    """Encoded batches of a generated file, in file (time) order, honouring ``selection``."""
    for table_batch in _arrow_batches(Path(path), batch_rows):
        if selection.exhausted:
            return
        chosen = _select(table_batch, selection)
        if chosen.num_rows:
            yield encode_table(chosen, selection)


def _arrow_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    from fraudstream.generator.files import is_csv, read_table
    from fraudstream.generator.table import OPTIONAL_COLUMNS, TRANSACTION_SCHEMA, conform

    if not path.exists():
        raise FileNotFoundError(f"no transactions file at {path}")
    if is_csv(path):
        yield from read_table(path).to_batches(max_chunksize=batch_rows)
        return
    import pyarrow.parquet as pq

    present = pq.ParquetFile(path).schema_arrow.names
    names = [n for n in (*TRANSACTION_SCHEMA.names, *OPTIONAL_COLUMNS) if n in present]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=names):
        yield from conform(pa.Table.from_batches([batch])).to_batches()


def _select(batch: pa.RecordBatch, selection: Selection) -> pa.Table:
    table = pa.Table.from_batches([batch])
    times = table["trans_time"]
    mask = None
    if selection.from_time is not None:
        mask = pc.greater_equal(times, pa.scalar(selection.from_time, pa.timestamp("ms", tz="UTC")))
    if selection.to_time is not None:
        upper = pc.less(times, pa.scalar(selection.to_time, pa.timestamp("ms", tz="UTC")))
        mask = upper if mask is None else pc.and_(mask, upper)
    if mask is not None:
        table = table.filter(pc.fill_null(mask, False))
    return table.slice(0, selection.take(table.num_rows))


def encode_table(table: pa.Table, selection: Selection) -> EncodedBatch:
    """Encode selected rows column-wise; invalid rows become ``rejected`` with their decode error."""
    table = tokenise_table(table.combine_chunks())  # cc_num -> token at the edge (off: unchanged)
    bad = _invalid_rows(table)
    rejected: list[Rejected] = []
    if bad.any():
        rejected = [_rejection(row) for row in table.filter(pa.array(bad)).to_pylist()]
        table = table.filter(pa.array(~bad))
    if table.num_rows == 0:
        return EncodedBatch([], [], [], np.zeros(0, dtype=np.int64), rejected)

    times_ms = _epoch_ms(table["trans_time"])
    label_times_ms = None
    if "labelled_at" in table.column_names:  # a missing labelled_at: known with the transaction
        label_times_ms = _epoch_ms(pc.coalesce(table["labelled_at"], table["trans_time"]))
    shift = selection.shift_for(int(times_ms[0]))
    if shift:
        times_ms = times_ms + shift
        table = _set_times(table, "trans_time", times_ms)
        label_times_ms = None if label_times_ms is None else label_times_ms + shift
    if _needs_escaping(table):  # ids from a foreign file: let the model encode each row
        return _encode_rows(table, times_ms, rejected, label_times_ms)

    time_text = _iso_millis(table["trans_time"])
    value = pc.binary_join_element_wise(
        '{"tid":"',
        table["tid"],
        '","cc_num":"',
        table["cc_num"],
        '","amount":',
        pc.cast(table["amount"], pa.string()),
        ',"trans_time":"',
        time_text,
        '"',
        _optional_text(table, "merchant"),
        "}",
        "",
    )
    labels: list[bytes | None] = [None] * table.num_rows
    if "fraud_label" in table.column_names:
        flag = pc.if_else(pc.equal(table["fraud_label"], 1), "true", "false")
        known = time_text if label_times_ms is None else _iso_millis(pa.array(label_times_ms, pa.timestamp("ms")))
        label = pc.binary_join_element_wise(
            '{"tid":"', table["tid"], '","is_fraud":', flag, ',"labelled_at":"', known, '","cc_num":"',
            table["cc_num"], '"}', "",
        )  # fmt: skip
        labels = _as_bytes_list(label)
    keys = _as_bytes_list(table["cc_num"])
    return EncodedBatch(keys, _as_bytes_list(value), labels, times_ms, rejected, label_times_ms)


def _epoch_ms(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return times.cast(pa.timestamp("ms")).cast(pa.int64()).to_numpy()


def _set_times(table: pa.Table, name: str, times_ms: np.ndarray) -> pa.Table:
    column = pa.array(times_ms, pa.timestamp("ms", tz="UTC"))
    return table.set_column(table.schema.get_field_index(name), name, column)


def _optional_text(table: pa.Table, name: str) -> pa.Array | str:
    """``,"name":"value"`` where the column has a value, else nothing (optional fields are left out)."""
    if name not in table.column_names:
        return ""
    blank = pc.equal(pc.utf8_length(table[name]), 0)
    field_text = pc.binary_join_element_wise(f',"{name}":"', table[name], '"', "")
    return pc.fill_null(pc.if_else(blank, pa.scalar(None, pa.string()), field_text), "")


def rule_violations(rule: FieldRule, column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """The Arrow checks of one contract rule: each is true (or null) where a row breaks it.

    Generated from :data:`fraudstream.messages.TRANSACTION_RULES`; the columns are already typed
    (``generator.table.TRANSACTION_SCHEMA``), so a type check is the null check, and a time column
    needs no text pattern.
    """
    checks = [pc.is_null(column)]
    if rule.kind == "text":
        if rule.pattern:
            checks.append(pc.invert(pc.match_substring_regex(column, rule.pattern)))
        else:
            checks.append(pc.equal(pc.utf8_length(column), 0))
    elif rule.kind == "number":
        checks.append(pc.invert(pc.is_finite(column)))
        if rule.minimum is not None:
            checks.append(pc.less(column, rule.minimum))
        if rule.maximum is not None:
            checks.append(pc.greater(column, rule.maximum))
    return checks


def _invalid_rows(table: pa.Table) -> np.ndarray:
    """Rows that ``decode(Transaction, ...)`` would reject, found column-wise from the contract's rules."""
    bad = pa.array(np.zeros(table.num_rows, dtype=bool))
    for rule in TRANSACTION_RULES:
        for check in rule_violations(rule, table[rule.field]):
            bad = pc.or_(bad, pc.fill_null(check, True))
    return np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)


def _needs_escaping(table: pa.Table) -> bool:
    ids = [c for c in ("tid", "merchant") if c in table.column_names]
    return not all(pc.all(pc.match_substring_regex(table[c], SAFE_TEXT)).as_py() is not False for c in ids)


def _iso_millis(times: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``2020-01-01T00:00:05.123Z`` for each timestamp (cast is ~15x faster than strftime)."""
    text = pc.cast(pc.cast(times, pa.timestamp("ms")), pa.string())
    return pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "Z", "")


def _as_bytes_list(arr: pa.ChunkedArray | pa.Array) -> list[bytes]:
    """One ``bytes`` per string, sliced out of the Arrow data buffer (no per-row Arrow scalars)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    _, offsets, data = arr.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1].tolist()
    raw = data.to_pybytes() if data is not None else b""
    return [raw[a:b] for a, b in zip(ends, ends[1:], strict=False)]


def _row_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's fields of a rejected row, times as wire text (the evidence in the dead letter)."""
    out = {rule.field: row.get(rule.field) for rule in TRANSACTION_RULES}
    for rule in TRANSACTION_RULES:
        if rule.kind == "time" and isinstance(out[rule.field], datetime):
            out[rule.field] = format_time(out[rule.field])
    return out


def _rejection(row: dict[str, Any]) -> Rejected:
    payload = _row_payload(row)
    try:
        decode(Transaction, payload)
        error = "record rejected by the column checks"
    except DecodeError as exc:
        error = str(exc)
    amount = payload.get("amount")
    if isinstance(amount, float) and not math.isfinite(amount):
        payload["amount"] = str(amount)  # JSON has no NaN/inf; keep the evidence as text
    return Rejected(offset=None, error=error, payload=json.dumps(payload, default=str))


def _encode_rows(
    table: pa.Table, times_ms: np.ndarray, rejected: list[Rejected], label_times_ms: np.ndarray | None = None
) -> EncodedBatch:
    keys, values, labels = [], [], []
    has_label = "fraud_label" in table.column_names
    for i, row in enumerate(table.to_pylist()):
        merchant = row.get("merchant") or None  # optional: a blank one is left out
        tx = Transaction(
            tid=row["tid"], cc_num=row["cc_num"], amount=row["amount"], trans_time=row["trans_time"], merchant=merchant
        )
        keys.append(tx.cc_num.encode())
        values.append(encode(tx))
        known = None if label_times_ms is None else datetime.fromtimestamp(label_times_ms[i] / 1000, UTC)
        labels.append(_label_bytes(tx, row["fraud_label"], known) if has_label else None)
    return EncodedBatch(keys, values, labels, times_ms, rejected, label_times_ms)


def _label_bytes(tx: Transaction, fraud_label: Any, labelled_at: datetime | None = None) -> bytes | None:
    """The label of ``tx``; known at ``labelled_at`` (default: at the transaction's time)."""
    if fraud_label is None:
        return None
    known = labelled_at or tx.trans_time
    return encode(Label(tid=tx.tid, is_fraud=bool(fraud_label), labelled_at=known, cc_num=tx.cc_num))


# --------------------------------------------------------------------------------------------
# JSON lines (stdin)
# --------------------------------------------------------------------------------------------
LABEL_FIELDS = ("fraud_label", "is_fraud")
"""A JSON line that carries one of these fields also yields a label."""


def line_batches(
    lines: Iterable[bytes | str], selection: Selection, batch_lines: int = STDIN_BATCH_LINES
) -> Iterator[EncodedBatch]:
    """Encoded batches of JSON-lines transactions; undecodable lines are rejected with their line number."""
    batch = _empty_batch()
    times: list[tuple[int, int]] = []  # (event time, label time) per record
    for number, line in enumerate(lines, start=1):
        if selection.exhausted:
            break
        if not line.strip():
            continue
        _add_line(batch, times, number, line, selection)
        if len(batch) + len(batch.rejected) >= batch_lines:
            yield _timed(batch, times)
            batch, times = _empty_batch(), []
    if len(batch) or batch.rejected:
        yield _timed(batch, times)


def _timed(batch: EncodedBatch, times: list[tuple[int, int]]) -> EncodedBatch:
    pairs = np.array(times, dtype=np.int64).reshape(-1, 2)
    batch.times_ms = pairs[:, 0].copy()
    batch.label_times_ms = pairs[:, 1].copy()
    return batch


def _empty_batch() -> EncodedBatch:
    return EncodedBatch([], [], [], np.zeros(0, dtype=np.int64))


def _add_line(
    batch: EncodedBatch, times: list[tuple[int, int]], number: int, line: bytes | str, selection: Selection
) -> None:
    """Decode one line into ``batch``; a label line may carry ``labelled_at`` (default: the transaction's time)."""
    text = line.decode("utf-8", errors="backslashreplace") if isinstance(line, bytes) else line
    text = tokenise_json_line(text)  # cc_num -> token at the edge (off: unchanged)
    try:
        obj = json.loads(text)
        tx = decode(Transaction, obj if isinstance(obj, dict) else text)
        flag = next((obj[f] for f in LABEL_FIELDS if f in obj), None)
        if flag is not None and not (isinstance(flag, bool) or flag in (0, 1)):
            raise DecodeError("fraud_label", f"expected 0/1 or a boolean, got {flag!r}")
        known = tx.trans_time
        if flag is not None and obj.get("labelled_at") is not None:
            known = decode(Label, {"tid": tx.tid, "is_fraud": flag, "labelled_at": obj["labelled_at"]}).labelled_at
    except (json.JSONDecodeError, DecodeError) as exc:
        reason = str(exc) if isinstance(exc, DecodeError) else f"<record>: not valid JSON ({exc})"
        batch.rejected.append(Rejected(offset=number, error=reason, payload=text.rstrip("\n")))
        return
    if selection.from_time is not None and tx.trans_time < selection.from_time:
        return
    if selection.to_time is not None and tx.trans_time >= selection.to_time:
        return
    if not selection.take(1):
        return
    when_ms = int(tx.trans_time.timestamp() * 1000)
    shift = selection.shift_for(when_ms)
    if shift:
        tx = tx.model_copy(update={"trans_time": tx.trans_time + timedelta(milliseconds=shift)})
        known = known + timedelta(milliseconds=shift)
    batch.keys.append(tx.cc_num.encode())
    batch.values.append(encode(tx))
    batch.labels.append(_label_bytes(tx, flag, known))
    times.append((when_ms + shift, round(known.timestamp() * 1000)))


def stdin_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of a binary stream (stdin), one at a time, so that a pipe streams."""
    yield from stream
