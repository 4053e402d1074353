"""The transaction table: one Arrow schema, built from column vectors without per-row Python."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from fraudstream.generator.attacks import ATTACK_KINDS

TRANSACTION_SCHEMA = pa.schema(
    [
        pa.field("tid", pa.string(), nullable=False),
        pa.field("trans_time", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("cc_num", pa.string(), nullable=False),
        pa.field("amount", pa.float64(), nullable=False),
        pa.field("fraud_label", pa.int32(), nullable=False),
        pa.field("attack_id", pa.int64()),
        pa.field("attack_kind", pa.string()),
    ]
)
"""Columns of every generated file; ``attack_*`` are null on legitimate rows."""

COLUMNS: tuple[str, ...] = tuple(TRANSACTION_SCHEMA.names)

RICH_FIELDS: tuple[pa.Field, ...] = (
    pa.field("merchant", pa.string()),
    pa.field("labelled_at", pa.timestamp("ms", tz="UTC")),
)
"""Optional columns, written by the rich profile only (seed files have neither, so their bytes
stay the anchor's): the merchant (``m-000123``) and when the row's label became known."""
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in RICH_FIELDS)
TIME_COLUMNS: tuple[str, ...] = ("trans_time", "labelled_at")


def schema_of(table: pa.Table) -> pa.Schema:
    """The canonical schema for a table: the base columns plus the optional ones it has."""
    return pa.schema(list(TRANSACTION_SCHEMA) + [f for f in RICH_FIELDS if f.name in table.column_names])


_PANDAS_TYPES = {pa.string(): pd.StringDtype("pyarrow"), pa.int64(): pd.Int64Dtype()}


def fixed_width_strings(values: np.ndarray) -> pa.Array:
    """An Arrow string array straight from a fixed-width bytes array (``S<n>``): no Python objects."""
    width = values.dtype.itemsize
    n = values.size
    data = np.ascontiguousarray(values).tobytes()
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if n * width >= 2**31 else np.int32)
    kind = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    arr = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return arr.cast(pa.string()) if kind != pa.string() else arr


def build_table(
    tids: np.ndarray,
    times_ms: np.ndarray,
    cc_nums: np.ndarray,
    cents: np.ndarray,
    attack_id: np.ndarray,
    attack_kind: np.ndarray,
    merchants: np.ndarray | None = None,
    labelled_at_ms: np.ndarray | None = None,
) -> pa.Table:
    """Assemble the table; ``attack_id``/``attack_kind`` use -1 for legitimate rows.

    ``merchants`` (fixed-width bytes) and ``labelled_at_ms`` add the rich profile's columns.
    """
    normal = attack_id < 0
    kinds = pa.DictionaryArray.from_arrays(
        pa.array(attack_kind.astype(np.int8), mask=normal), pa.array(ATTACK_KINDS, pa.string())
    )
    columns = [
        fixed_width_strings(tids),
        pa.array(times_ms, pa.timestamp("ms", tz="UTC")),
        fixed_width_strings(cc_nums),
        pa.array(cents / 100.0, pa.float64()),
        pa.array((~normal).astype(np.int32)),
        pa.array(attack_id.astype(np.int64), mask=normal),
        kinds.cast(pa.string()),
    ]
    fields = list(TRANSACTION_SCHEMA)
    if merchants is not None:
        columns.append(fixed_width_strings(merchants))
        fields.append(RICH_FIELDS[0])
    if labelled_at_ms is not None:
        columns.append(pa.array(labelled_at_ms, pa.timestamp("ms", tz="UTC")))
        fields.append(RICH_FIELDS[1])
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def conform(data: pa.Table | pd.DataFrame) -> pa.Table:
    """The canonical Arrow table of a DataFrame or table (schema order and types, no metadata).

    Optional columns (``OPTIONAL_COLUMNS``) are kept when present; other columns are dropped.
    """
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"transaction data lacks columns {missing}")
    schema = schema_of(table)
    table = table.select(schema.names).cast(schema)
    return table.replace_schema_metadata(None)


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """DataFrame view: Arrow-backed strings, nullable Int64 ``attack_id``, UTC datetime64[ms] times."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, coerce_temporal_nanoseconds=False)
