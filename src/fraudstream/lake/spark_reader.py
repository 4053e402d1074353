"""Reading the lake with Spark, de-duplicated by ``tid`` (the archiver is at-least-once).

Transactions come out in the batch job's input shape (``fraud_label`` from the latest label per
``tid``, 0 when a transaction has none yet; ``labelled_at`` of that label, NULL without one; the
transaction's optional ``merchant``), so the nightly job (its 1-week, card windows and merchant
groups) and the training set run on the lake exactly as on a generator file with those columns.
Day bounds prune partitions: a nightly run reads the days of its longest window and label delay.

Labels are read whole (every day): a label is archived under the day it was *given*, days or weeks
after its transaction. The merchant risk of a night counts a fraud only if its ``labelled_at`` is
before that night (``features.merchant_aggregate_sql``), so labels given after the night change nothing
but a label corrected later (fraud, then genuine), whose latest decision wins here as in a file.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from fraudstream.batch.io import LABEL_COLUMN, InputError
from fraudstream.lake.layout import (
    DAY_COLUMN,
    LABEL_TIME,
    LABELS,
    OFFSET_COLUMN,
    TRANSACTIONS,
    ArchivedTopic,
    topic_dir,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def _spark_path(path: str) -> str:
    """``s3://`` as ``s3a://`` outside EMR (EMR reads both)."""
    return "s3a://" + path[len("s3://") :] if path.startswith("s3://") else path


def read_topic(
    spark: SparkSession, lake_dir: str, topic: ArchivedTopic, first: date | None = None, last: date | None = None
) -> DataFrame:
    """One archived topic, days [first, last] when given, one row per ``tid``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as f
    from pyspark.sql.utils import AnalysisException

    path = _spark_path(topic_dir(lake_dir, topic))
    try:
        raw = spark.read.option("basePath", path).parquet(path)
    except AnalysisException as exc:
        raise InputError(f"no {topic.kind} in the lake at {path!r} (is the archiver running?): {exc}") from None
    if first is not None:
        raw = raw.where(f.col(DAY_COLUMN) >= f.lit(first))
    if last is not None:
        raw = raw.where(f.col(DAY_COLUMN) <= f.lit(last))
    if topic.latest_field is None:  # re-deliveries are identical records
        return raw.dropDuplicates(["tid"])
    latest = Window.partitionBy("tid").orderBy(f.col(topic.latest_field).desc(), f.col(OFFSET_COLUMN).desc())
    return raw.withColumn("_rank", f.row_number().over(latest)).where("_rank = 1").drop("_rank")


def read_lake_transactions(
    spark: SparkSession, lake_dir: str, first: date | None = None, last: date | None = None, labels: bool = True
) -> DataFrame:
    """Transactions of days [first, last] as ``read_transactions`` returns them, with ``merchant``
    (+ ``fraud_label`` and ``labelled_at`` when ``labels``)."""
    from pyspark.sql import functions as f

    tx = read_topic(spark, lake_dir, TRANSACTIONS, first, last).select(
        f.col("tid"),
        f.col("trans_time"),
        f.col("cc_num"),
        f.col("amount").cast("double").alias("amount"),
        f.col("merchant").cast("string").alias("merchant"),
    )
    if not labels:
        return tx
    try:
        latest = read_topic(spark, lake_dir, LABELS).select(
            "tid", f.col("is_fraud").cast("int").alias(LABEL_COLUMN), f.col(LABEL_TIME).cast("timestamp")
        )
    except InputError:  # no label archived yet: every transaction counts as genuine so far
        return tx.withColumn(LABEL_COLUMN, f.lit(0)).withColumn(LABEL_TIME, f.lit(None).cast("timestamp"))
    return tx.join(latest, "tid", "left").withColumn(LABEL_COLUMN, f.coalesce(f.col(LABEL_COLUMN), f.lit(0)))
