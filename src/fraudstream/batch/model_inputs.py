"""The model inputs of the training set as Spark columns, equal to ``features.compute_model_inputs``.

Every derived input the scorer computes today is one ``safe_ratio(numerator, denominator)`` of a
raw value and a feature, or a z-score ``safe_ratio(amount - mean, deviation)``: missing when either
is missing or the denominator is 0, else one IEEE double subtraction and division. That is a
native Spark expression, so the training set needs no Python worker (the pandas step shipped all
5.4 M rows through Arrow twice). An input without a ratio here (a
new one in ``features``) still goes through ``compute_model_inputs`` in pandas, so a new input
can never be silently wrong; tests compare the two paths and the rows with the scorer's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fraudstream import features as F

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import Column, DataFrame

RATIOS: dict[str, tuple[str, str]] = {
    F.AMT_RATIO1: (F.AVG_AMT_LAST_10M, F.AVG_AMT_LAST_1W),
    F.AMT_RATIO2: ("amount", F.AVG_AMT_LAST_1W),
    F.COUNT_RATIO: (F.NUM_TRANS_LAST_10M, F.NUM_TRANS_LAST_1W),
    F.MAX_AMT_RATIO: (F.MAX_AMT_LAST_10M, F.AVG_AMT_LAST_1W),
    **F.NIGHTLY_RATIOS,
    **F.CARD_AMOUNT_RATIOS,
}
"""``compute_model_inputs``' ratios: input -> (numerator, denominator) columns."""


def ratio_column(name: str) -> Column:
    """``safe_ratio`` of ``RATIOS[name]`` in Spark: NULL (missing) for a missing value or a 0 denominator."""
    from pyspark.sql import functions as f

    numerator, denominator = (f.col(c).cast("double") for c in RATIOS[name])
    return f.when(denominator != 0, numerator / denominator).alias(name)


def zscore_column(name: str) -> Column:
    """``features.CARD_AMOUNT_ZSCORES[name]`` in Spark: ``safe_ratio(amount - mean, deviation)``."""
    from pyspark.sql import functions as f

    mean, deviation = (f.col(c).cast("double") for c in F.CARD_AMOUNT_ZSCORES[name])
    return f.when(deviation != 0, (f.col("amount").cast("double") - mean) / deviation).alias(name)


def _native_column(name: str) -> Column:
    return ratio_column(name) if name in RATIOS else zscore_column(name)


def _pandas_inputs(names: tuple[str, ...]):  # noqa: ANN202 (a mapInPandas body)
    """mapInPandas body adding ``names`` through ``features.compute_model_inputs`` (any feature set)."""

    def body(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for feature_set, inputs_of_set in F.FEATURE_SETS.items():
                wanted = [i for i, name in enumerate(inputs_of_set) if name in names]
                if not wanted:
                    continue
                inputs = F.compute_model_inputs(
                    batch["amount"].to_numpy(dtype=float),
                    batch[F.NUM_TRANS_LAST_10M].to_numpy(dtype=float),
                    batch[F.AVG_AMT_LAST_10M].to_numpy(dtype=float),
                    batch[F.NUM_TRANS_LAST_1W].to_numpy(dtype=float, na_value=float("nan")),
                    batch[F.AVG_AMT_LAST_1W].to_numpy(dtype=float, na_value=float("nan")),
                    batch[F.MAX_AMT_LAST_10M].to_numpy(dtype=float),
                    feature_set=feature_set,
                    nightly={
                        n: batch[n].to_numpy(dtype=float, na_value=float("nan")) for n in F.NIGHTLY_INPUTS if n in batch
                    },
                )
                for i in wanted:
                    batch[inputs_of_set[i]] = inputs[:, i]  # NaN (missing) becomes NULL in Arrow/Parquet
            yield batch

    return body


def add_model_inputs(rows: DataFrame, names: tuple[str, ...], native: bool = True) -> DataFrame:
    """``rows`` (raw columns + stream and 1-week features) plus the DOUBLE inputs ``names``, in order.

    ``native`` False computes every one in pandas (the reference the tests compare with).
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    in_spark = [n for n in names if native and (n in RATIOS or n in F.CARD_AMOUNT_ZSCORES)]
    in_pandas = tuple(n for n in names if n not in in_spark)
    out = rows.select("*", *(_native_column(n) for n in in_spark))
    if in_pandas:
        schema = StructType([*out.schema.fields, *(StructField(n, DoubleType(), True) for n in in_pandas)])
        out = out.mapInPandas(_pandas_inputs(in_pandas), schema=schema)
    return out.select(*rows.columns, *names)
