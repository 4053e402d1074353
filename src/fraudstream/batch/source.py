"""Where the batch jobs read transactions: the lake by default, a file when ``--input`` is given.

The lake is what flowed through Kafka (``fraudstream.lake``); a file stays for backfills,
bootstrapping from the generator and users' own data.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from fraudstream import features as F
from fraudstream.batch.io import read_transactions
from fraudstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LAKE = "lake"
"""What a summary's ``input`` says when the lake was read (followed by its directory)."""


def source_name(input_path: str | None, settings: Settings | None = None) -> str:
    """``input_path``, or ``lake:<lake_dir>`` when reading the lake."""
    return str(input_path) if input_path else f"{LAKE}:{(settings or get_settings()).lake_dir}"


def load_transactions(
    spark: SparkSession,
    input_path: str | None,
    settings: Settings | None = None,
    first: date | None = None,
    last: date | None = None,
) -> DataFrame:
    """Transactions from ``input_path`` (all of it) or from the lake (days [first, last] when given)."""
    if input_path:
        return read_transactions(spark, input_path)
    from fraudstream.lake.spark_reader import read_lake_transactions

    return read_lake_transactions(spark, str((settings or get_settings()).lake_dir), first, last)


def nightly_days(as_of: date) -> tuple[date, date]:
    """The lake days a nightly run of ``as_of`` needs: its week and the previous run's (for expiries)."""
    return as_of - timedelta(days=F.BATCH_WINDOW_DAYS + 1), as_of - timedelta(days=1)
