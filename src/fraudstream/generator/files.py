"""Reading and writing generated transactions: Parquet by default, CSV when the name ends in ``.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fraudstream.generator.table import OPTIONAL_COLUMNS, TIME_COLUMNS, conform, to_pandas

PARQUET_ROW_GROUP = 1_000_000
PARQUET_COMPRESSION = "zstd"


def is_csv(path: str | Path) -> bool:
    return str(path).lower().endswith(".csv")


def write_transactions(data: pa.Table | pd.DataFrame, path: str | Path) -> Path:
    """Write deterministically: the same rows give the same bytes (no timestamps, no pandas metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = conform(data)
    tmp = path.with_name(path.name + ".tmp")
    if is_csv(path):
        pacsv.write_csv(_csv_view(table), tmp, pacsv.WriteOptions(include_header=True, batch_size=100_000))
    else:
        pq.write_table(
            table,
            tmp,
            compression=PARQUET_COMPRESSION,
            row_group_size=PARQUET_ROW_GROUP,
            use_dictionary=[c for c in ("cc_num", "attack_kind", "merchant") if c in table.column_names],
        )
    tmp.replace(path)
    return path


def read_table(path: str | Path) -> pa.Table:
    """A generated file as an Arrow table with the canonical schema."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no transactions file at {path}")
    if not is_csv(path):
        return conform(pq.read_table(path))
    types = {"tid": pa.string(), "cc_num": pa.string(), **{c: pa.timestamp("ms", tz="UTC") for c in TIME_COLUMNS}}
    types.update({c: pa.string() for c in OPTIONAL_COLUMNS if c not in TIME_COLUMNS})
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    return conform(pacsv.read_csv(path, convert_options=options))


def read_transactions(path: str | Path) -> pd.DataFrame:
    """A generated file (Parquet or CSV) as the DataFrame ``generate`` returns."""
    return to_pandas(read_table(path))


def _csv_view(table: pa.Table) -> pa.Table:
    """CSV renders times as ISO-8601 with milliseconds and ``Z``, like the messages."""
    for name in TIME_COLUMNS:
        if name in table.column_names:
            text = pc.binary_join_element_wise(pc.strftime(table[name], format="%Y-%m-%dT%H:%M:%S"), "Z", "")
            table = table.set_column(table.schema.get_field_index(name), name, text)
    return table
