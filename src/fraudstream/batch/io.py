"""Read the generator's transactions (Parquet or CSV, local or s3a://) into a typed DataFrame.

Columns (DESIGN.md "Generated data"): ``tid``, ``trans_time``, ``cc_num``, ``amount``,
``fraud_label`` and optionally ``attack_id``, ``attack_kind``. Whatever the file holds,
``trans_time`` leaves as a UTC ``TIMESTAMP`` (a tz-naive Parquet timestamp is read as UTC wall
time), ``cc_num``/``tid`` as strings and ``amount`` as DOUBLE; the feature SQL casts ``amount`` to
``features.AMOUNT_SQL_TYPE`` itself.

A file is an edge where card numbers enter: with tokenisation on (``fraudstream.tokenise``),
``cc_num`` leaves as its token, exactly as the producer sends it to Kafka, so batch features,
stream features and the training set still join. The lake holds what crossed Kafka (tokens
already) and is not read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fraudstream.tokenise import Tokeniser, get_tokeniser

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

REQUIRED_COLUMNS: tuple[str, ...] = ("tid", "trans_time", "cc_num", "amount")
LABEL_COLUMN = "fraud_label"
OPTIONAL_COLUMNS: tuple[str, ...] = (LABEL_COLUMN, "attack_id", "attack_kind")


NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"
"""Spark reads a Parquet ``TIMESTAMP(NANOS)`` column (pandas' default) only with this on, as INT64 nanoseconds."""


class InputError(ValueError):
    """The input path or its columns are not what the batch job needs (a clear CLI message)."""


def input_format(path: str) -> str:
    """``csv`` when the path says so, else ``parquet`` (files or directories of parts)."""
    lowered = path.rstrip("/").lower()
    return "csv" if lowered.endswith((".csv", ".csv.gz")) else "parquet"


def read_transactions(spark: SparkSession, path: str) -> DataFrame:
    """Transactions at ``path`` with the canonical column names and types."""
    from pyspark.sql import functions as f
    from pyspark.sql.utils import AnalysisException

    fmt = input_format(path)
    reader = spark.read.option("header", "true") if fmt == "csv" else spark.read
    try:
        raw = reader.format(fmt).load(path)
    except AnalysisException as exc:
        if fmt != "parquet" or "NANOS" not in str(exc):
            raise InputError(f"cannot read transactions from {path!r} ({fmt}): {exc}") from None
        # pandas writes nanosecond timestamps, which Spark reads only as INT64 nanoseconds since the epoch;
        # _as_utc_timestamp turns them back into timestamps (to the microsecond, Spark's precision)
        spark.conf.set(NANOS_AS_LONG, "true")
        try:
            raw = reader.format(fmt).load(path)
        except AnalysisException as again:
            raise InputError(f"cannot read transactions from {path!r} ({fmt}): {again}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"{path!r} lacks column(s) {missing}; it has {raw.columns}")

    columns = [
        f.col("tid").cast("string").alias("tid"),
        _as_utc_timestamp(raw, "trans_time").alias("trans_time"),
        _at_edge(f.col("cc_num").cast("string"), get_tokeniser()).alias("cc_num"),
        f.col("amount").cast("double").alias("amount"),
    ]
    if LABEL_COLUMN in raw.columns:
        columns.append(f.col(LABEL_COLUMN).cast("int").alias(LABEL_COLUMN))
    columns += [f.col(c) for c in OPTIONAL_COLUMNS[1:] if c in raw.columns]  # types kept as written
    if "merchant" in raw.columns:  # the rich profile's merchant and label time (merchant risk)
        columns.append(f.col("merchant").cast("string").alias("merchant"))
    if "labelled_at" in raw.columns:
        columns.append(_as_utc_timestamp(raw, "labelled_at").alias("labelled_at"))
    return raw.select(*columns)


def _at_edge(cc_num: Column, tokeniser: Tokeniser) -> Column:
    """``cc_num`` through the tokeniser (a pandas UDF; the key travels in the UDF, so executors
    need no environment of their own), or unchanged when tokenisation is off."""
    if not tokeniser.enabled:
        return cc_num
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def at_edge(values):  # noqa: ANN001, ANN202 (real annotations below)
        edge = tokeniser.many_at_edge(None if pd.isna(v) else v for v in values)
        return pd.Series(edge, index=values.index, dtype=object)

    # Spark reads the UDF kind from the annotations; with postponed annotations they would be
    # strings naming a module-local import, so they are set as objects
    at_edge.__annotations__ = {"values": pd.Series, "return": pd.Series}
    return pandas_udf(at_edge, "string")(cc_num)  # type: ignore[call-overload]


def _as_utc_timestamp(raw: DataFrame, name: str):
    """``name`` as TIMESTAMP: NTZ and strings are UTC wall times (the session time zone is UTC)."""
    from pyspark.sql import functions as f
    from pyspark.sql.types import LongType, StringType

    dtype = raw.schema[name].dataType
    if isinstance(dtype, StringType):
        # ISO-8601 with or without the trailing Z / offset
        return f.to_timestamp(f.col(name))
    if isinstance(dtype, LongType) and raw.sparkSession.conf.get(NANOS_AS_LONG, "false") == "true":
        # Parquet nanoseconds (pandas): integral division (a double loses ~256 ns at today's epoch values)
        return f.expr(f"timestamp_micros(`{name}` div 1000)")
    return f.col(name).cast("timestamp")
