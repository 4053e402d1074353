"""Durable Parquet writes into the lake: a file is either complete under its final name or absent.

Local directories: write a hidden temporary file (Spark and DuckDB skip names starting with
``.``), fsync it, rename it into place and fsync the directory, so a crash never leaves a torn
part that a reader would pick up. ``s3://`` lakes: one PUT per file, which S3 makes visible
atomically.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fraudstream.lake.layout import ArchivedTopic, arrow_schema, day_dir


def part_name() -> str:
    """A unique, time-ordered file name (several archivers may write the same day)."""
    return f"part-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"


def write_part(lake_dir: str, topic: ArchivedTopic, day: date, rows: list[dict[str, Any]]) -> str:
    """Write ``rows`` (model fields + Kafka position) as one Parquet file of ``day``; returns its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=arrow_schema(topic))
    directory = day_dir(lake_dir, topic, day)
    name = part_name()
    if "://" in directory:  # s3:// (pyarrow's S3 filesystem; credentials from the usual AWS chain)
        from pyarrow import fs

        filesystem, root = fs.FileSystem.from_uri(directory)
        pq.write_table(table, f"{root}/{name}", filesystem=filesystem, compression="zstd")
        return f"{directory}/{name}"
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    final = folder / name
    os.replace(tmp, final)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return str(final)
