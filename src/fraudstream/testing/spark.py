"""pytest fixtures: one real local SparkSession per test session (startup costs ~10-20 s on 2 cores)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A ``local[2]`` session with the batch job's settings (UTC, small shuffles, no UI), shared."""
    from fraudstream.batch.spark_session import get_spark

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = get_spark("local[2]", extra_conf={"spark.sql.warehouse.dir": str(warehouse)})
    yield session
    session.stop()
