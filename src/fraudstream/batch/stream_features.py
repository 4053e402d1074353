"""The 10-minute features in Spark: the Spark half of the Flink parity test.

The SELECT comes verbatim from ``features.stream_aggregate_select_sql`` (the text Flink runs), over
a view whose ``amount`` is ``features.AMOUNT_SQL_TYPE``: window sums are exact decimals and the
mean is one DOUBLE conversion plus one division, so the values are bit-identical to Flink's.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fraudstream import features as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def add_stream_features(df: DataFrame) -> DataFrame:
    """``df`` (needs cc_num, trans_time, amount) plus ``features.STREAM_FEATURES`` on every row.

    Every input column passes through with its name (``amount`` leaves as DOUBLE, as in Flink);
    each row's window is [trans_time - 10 min, trans_time] of its card, the row itself included.
    """
    from pyspark.sql import functions as f

    missing = [c for c in ("cc_num", "trans_time", "amount") if c not in df.columns]
    if missing:
        raise ValueError(f"add_stream_features needs column(s) {missing}; got {df.columns}")
    typed = df.withColumn("amount", f.col("amount").cast(F.AMOUNT_SQL_TYPE)).withColumn(
        "trans_time", f.col("trans_time").cast("timestamp")
    )
    view = f"fs_stream_input_{uuid.uuid4().hex}"
    typed.createOrReplaceTempView(view)
    try:
        passthrough = [f"`{c}`" if c != "amount" else c for c in df.columns]
        return df.sparkSession.sql(F.stream_aggregate_select_sql(view, passthrough=passthrough))
    finally:
        # the returned plan is already analysed, so the view name is no longer needed
        df.sparkSession.catalog.dropTempView(view)
