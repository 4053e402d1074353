"""Where lake files go and what columns they hold (one Arrow schema per archived topic).

Each topic's record model (``fraudstream.messages``) gives the columns; the day partition is the
UTC day of the record's event time (``trans_time`` for transactions and predictions,
``labelled_at`` for labels), so a nightly run for a day reads exactly the days it needs.
Every file also keeps ``kafka_partition``/``kafka_offset``: an archived record can be traced back
to the topic, and a re-delivered one is recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from fraudstream.messages import Label, Message, Prediction, Transaction

if TYPE_CHECKING:
    import pyarrow as pa

DAY_COLUMN = "day"
PARTITION_COLUMN = "kafka_partition"
OFFSET_COLUMN = "kafka_offset"


@dataclass(frozen=True)
class ArchivedTopic:
    """One archived topic: its record model, the field giving the day, and how duplicates are dropped."""

    kind: str
    """Directory name under the lake (the logical topic, independent of test-suffixed topic names)."""
    model: type[Message]
    day_field: str
    latest_field: str | None = None
    """When set, duplicates by ``tid`` keep the row with the largest value of this field."""


TRANSACTIONS = ArchivedTopic("transactions", Transaction, "trans_time")
LABEL_TIME = "labelled_at"
"""When a label was given: the day of a labels file, the latest decision per ``tid``, and what the
nightly merchant risk compares with its night (``features.LabelDelayRule``)."""
LABELS = ArchivedTopic("labels", Label, LABEL_TIME, latest_field=LABEL_TIME)
PREDICTIONS = ArchivedTopic("predictions", Prediction, "trans_time", latest_field="scored_at")
ARCHIVED: tuple[ArchivedTopic, ...] = (TRANSACTIONS, LABELS, PREDICTIONS)

_TIME_FIELDS = {"trans_time", "labelled_at", "scored_at", "batch_as_of"}
_TEXT_FIELDS = {"tid", "cc_num", "merchant", "zip_code", "model_version", "feature_set"}
_FLAG_FIELDS = {"is_fraud"}
_COUNT_FIELDS = {"num_trans_last_10m", "num_trans_last_1w"}


def arrow_schema(topic: ArchivedTopic) -> pa.Schema:
    """The Parquet schema of ``topic``'s files: every model field, nullable, plus the Kafka position."""
    import pyarrow as pa

    def arrow_type(name: str) -> pa.DataType:
        if name in _TIME_FIELDS:
            return pa.timestamp("ms", tz="UTC")
        if name in _TEXT_FIELDS:
            return pa.string()
        if name in _FLAG_FIELDS:
            return pa.bool_()
        if name in _COUNT_FIELDS:
            return pa.int64()
        return pa.float64()

    fields = [pa.field(name, arrow_type(name)) for name in topic.model.model_fields]
    fields += [pa.field(PARTITION_COLUMN, pa.int32()), pa.field(OFFSET_COLUMN, pa.int64())]
    return pa.schema(fields)


def topic_dir(lake_dir: str, topic: ArchivedTopic) -> str:
    """``<lake>/<topic>`` (no trailing slash), local path or ``s3://`` URI."""
    return f"{str(lake_dir).rstrip('/')}/{topic.kind}"


def day_dir(lake_dir: str, topic: ArchivedTopic, day: date) -> str:
    """``<lake>/<topic>/day=YYYY-MM-DD``: the Hive-style partition Spark and DuckDB discover."""
    return f"{topic_dir(lake_dir, topic)}/{DAY_COLUMN}={day.isoformat()}"
