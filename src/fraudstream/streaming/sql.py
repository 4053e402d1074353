"""The Flink SQL of the cc-agg job, generated from :mod:`fraudstream.features` and the job config.

Shape of the job (one statement set, so one Flink job writes every sink)::

    transactions (raw STRING + partition/offset/arrival-time metadata, trans_time parsed;
                  watermark on the arrival time)
        ├─ clock heartbeats (messages.Heartbeat)  ─► dropped here; their arrival moved the watermark
        ├─ invalid rows (bad JSON, missing/invalid field, bad time) ─► dead-letter  (error = reason)
        └─ valid rows ─► card_window(TABLE ... PARTITION BY cc_num)   (a Java process table function)
              ├─ kind = 'late': more than the allowed delay behind its card ─► dead-letter ("late for card ...")
              └─ kind = 'agg': 10-minute COUNT/SUM/MAX of the card ─► cc-agg (key cc_num),
                 with the transaction's optional ``merchant`` passed through (``merchant_expr``)

Event-time semantics are per card, and nothing is judged against a global event-time watermark.
That watermark would be the minimum over partitions, and after a pause, in a burst-produced
backlog, on a catch-up after a restart or in a backfill behind live traffic it runs ahead of rows
that are perfectly in order for their cards (a global "late" filter then drops most of a backlog,
and Flink's OVER window, even without the filter, clears a card's state 15 minutes of watermark
after the card's last row, before the card's next row arrives). ``card_window`` (see ``udf`` and the
Java class) keeps each card's last window of rows and its newest ``trans_time``, prunes them by the
card's own event time only, and calls a row late only when it is more than ``watermark_delay_ms``
before the newest ``trans_time`` already read for its card. *When* a row is emitted is decided by
a second clock, the broker's log-append time of the record, which only grows within a partition:
once the arrival watermark is past the row's arrival (plus the allowed delay), every row read
before it is in, peers with the same time included. A card's rows share a partition (the key is
``cc_num``), so a time-sorted backlog has no late row, at any speed and over any number of
partitions; the stream clock's heartbeats keep the arrival watermark moving when traffic is quiet.

The value is read as a raw string and validated in SQL, with checks generated from the rules
table of the transaction contract (:data:`fraudstream.messages.TRANSACTION_RULES`, with the same
``field: reason`` wording as :class:`fraudstream.messages.Transaction`), so that no record is
dropped silently: a JSON format with ``ignore-parse-errors`` would skip bad rows without a trace.
Times leave as ``DATE_FORMAT`` strings whose pattern is derived from ``messages.TIME_FORMAT``,
instead of relying on the JSON format's rendering of TIMESTAMP columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fraudstream import features
from fraudstream.featurestore.groups import STREAM_GROUP
from fraudstream.messages import (
    EMPTY_REASON,
    HEARTBEAT_PREFIX,
    RECORD_FIELD,
    TIME_EXAMPLE,
    TIME_FORMAT,
    TRANS_TIME_RULE,
    TRANSACTION_RULES,
    FieldRule,
)
from fraudstream.streaming.config import JobConfig

SOURCE_TABLE = "transactions_raw"
PARSED_VIEW = "transactions_parsed"
VALID_VIEW = "transactions_valid"
AGG_SINK = "cc_agg_sink"
DEAD_LETTER_SINK = "dead_letter_sink"
LATE_SINK = "late_sink"
"""Late rows get their own sink table (same topic) so its operator metrics count them."""

DEAD_LETTER_STAGE = "flink-cc-agg"
_JAVA_TIME_FIELDS = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%f": "SSS"}


def java_time_format(strftime_format: str) -> str:
    """A ``strftime`` format (``%f`` = milliseconds) as a Java ``DATE_FORMAT`` pattern, letters quoted."""
    parts = []
    for token in re.findall(r"%.|.", strftime_format):
        if token in _JAVA_TIME_FIELDS:
            parts.append(_JAVA_TIME_FIELDS[token])
        elif token.isalpha():
            parts.append(f"'{token}'")
        else:
            parts.append(token)
    return "".join(parts)


ISO_MILLIS_FORMAT = java_time_format(TIME_FORMAT).replace("'", "''")
"""``DATE_FORMAT`` pattern (inside a SQL literal) of the messages time format ``...05.123Z``."""
TIME_PATTERN = TRANS_TIME_RULE.pattern or ""
"""Accepted ``trans_time`` text: ISO-8601 in UTC (``Z`` or no offset), any fraction length."""


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _with(options: dict[str, str]) -> str:
    return ",\n  ".join(f"{quote(k)} = {quote(v)}" for k, v in options.items())


def kafka_options(cfg: JobConfig, topic: str) -> dict[str, str]:
    """Connection options shared by the source and the sinks."""
    opts = {"connector": "kafka", "topic": topic, "properties.bootstrap.servers": cfg.bootstrap_servers}
    opts.update({f"properties.{k}": v for k, v in cfg.kafka_property_pairs()})
    return opts


SINK_PRODUCER_PROPERTIES = {"properties.linger.ms": "0"}
"""Sinks send each record at once (the Kafka 4 client would wait 5 ms to fill a batch)."""


def json_value(field: str) -> str:
    return f"JSON_VALUE(payload, '$.{field}')"


def _json_wrapped(field: str) -> str:
    """The field as JSON text inside ``[...]``: tells a string (``["x"]``) from a number (``[5]``)."""
    return f"JSON_QUERY(payload, '$.{field}' WITH UNCONDITIONAL ARRAY WRAPPER)"


def time_column_expr(rule: FieldRule) -> str:
    """A ``time`` rule's field parsed from the payload as TIMESTAMP(3) (UTC), NULL when absent or invalid."""
    text = json_value(rule.field)
    return (
        f"CASE WHEN REGEXP({text}, {quote(rule.pattern or '')}) "
        f"THEN TO_TIMESTAMP(REPLACE(REPLACE({text}, 'T', ' '), 'Z', '')) END"
    )


def trans_time_expr() -> str:
    """``trans_time`` parsed from the payload as TIMESTAMP(3) (UTC), NULL when absent or invalid."""
    return time_column_expr(TRANS_TIME_RULE)


ARRIVAL_TIME = "arrival_time"
"""The Kafka record's timestamp: the broker's log-append time on ``transactions`` (the topic is created
with ``message.timestamp.type=LogAppendTime``), so it only grows within a partition. The watermark is
on this column: it says how far the log has been read, never what a transaction's event time is."""


def source_ddl(cfg: JobConfig) -> str:
    """Kafka source: the value as raw text, its partition/offset/arrival time, ``trans_time`` parsed."""
    options = {
        **kafka_options(cfg, cfg.topic_transactions),
        "properties.group.id": cfg.group_id,
        "scan.startup.mode": "group-offsets",
        "properties.auto.offset.reset": "earliest",
        # small per-partition fetches: the reader rotates between partitions often, so that under
        # backpressure no partition waits long enough to be declared idle while holding old rows
        "properties.max.partition.fetch.bytes": "65536",
        "value.format": "raw",
        "value.raw.charset": "UTF-8",
    }
    return f"""CREATE TEMPORARY TABLE {SOURCE_TABLE} (
  payload STRING,
  `partition` INT METADATA FROM 'partition' VIRTUAL,
  `offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  {ARRIVAL_TIME} TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  trans_time AS {trans_time_expr()},
  WATERMARK FOR {ARRIVAL_TIME} AS {ARRIVAL_TIME} - INTERVAL '0.001' SECOND
) WITH (
  {_with(options)}
)"""


@dataclass(frozen=True)
class Check:
    """One validation rule: when ``condition`` holds, the row is rejected with ``reason``."""

    condition: str
    reason: str


NOT_UTF8 = "REGEXP(payload, '\\uFFFD')"
"""The source keeps a value's bytes; read as text, bytes that are not UTF-8 become U+FFFD (as JSON_VALUE
sees them), so a record holding it is rejected: a tid or card number silently changed would be worse
than a dead letter. (POSITION compares the raw bytes and never finds it; the regex sees the text.)"""

_RECORD_CHECKS = [
    Check("payload IS NULL", f"{RECORD_FIELD}: empty record (null value)"),
    Check(NOT_UTF8, f"{RECORD_FIELD}: not valid UTF-8 (or holds U+FFFD)"),
    Check("NOT (payload IS JSON)", f"{RECORD_FIELD}: not valid JSON"),
    Check("NOT (payload IS JSON OBJECT)", f"{RECORD_FIELD}: expected a JSON object"),
]
NOT_A_JSON_STRING = "NOT LIKE '[\"%'"
"""After ``_json_wrapped``: the field is not a JSON string."""
JSON_NUMBER_START = "'^\\[-?[0-9]'"
JSON_NUMBER = "'^\\[-?[0-9][0-9.eE+-]*\\]$'"


def _decimal(field: str) -> str:
    return f"TRY_CAST({json_value(field)} AS {features.AMOUNT_SQL_TYPE})"


def _text_checks(rule: FieldRule) -> list[Check]:
    f, value = rule.field, json_value(rule.field)
    checks = [
        Check(f"{value} IS NULL", f"{f}: wrong type: expected a string, got null or a non-scalar"),
        Check(f"{_json_wrapped(f)} {NOT_A_JSON_STRING}", f"{f}: wrong type: expected a string"),
        Check(f"CHAR_LENGTH({value}) = 0", f"{f}: {EMPTY_REASON}"),
    ]
    if rule.pattern:
        checks.append(Check(f"NOT REGEXP({value}, {quote(rule.pattern)})", f"{f}: {rule.pattern_message()}"))
    return checks


def _number_checks(rule: FieldRule) -> list[Check]:
    f, number = rule.field, _decimal(rule.field)
    checks = [
        Check(
            f"{json_value(f)} IS NULL OR NOT REGEXP({_json_wrapped(f)}, {JSON_NUMBER_START})",
            f"{f}: wrong type: expected {rule.expected}",
        )
    ]
    if rule.maximum is not None:  # a number the decimal type cannot hold is above any bound
        checks.append(Check(f"{number} IS NULL", f"{f}: {rule.above_message()}"))
    if rule.minimum is not None:
        checks.append(Check(f"{number} < {rule.minimum:.2f}", f"{f}: {rule.below_message()}"))
    if rule.maximum is not None:
        checks.append(Check(f"{number} > {rule.maximum:.2f}", f"{f}: {rule.above_message()}"))
    return checks


def _time_checks(rule: FieldRule) -> list[Check]:
    """The source table parses a time field into a column of its name (``time_column_expr``)."""
    f = rule.field
    return [
        Check(
            f"{json_value(f)} IS NULL OR {_json_wrapped(f)} {NOT_A_JSON_STRING}",
            f"{f}: wrong type: expected {rule.expected}",
        ),
        Check(f"{f} IS NULL", f"{f}: {rule.pattern_reason} (expected e.g. {TIME_EXAMPLE})"),
    ]


_KIND_CHECKS = {"text": _text_checks, "number": _number_checks, "time": _time_checks}


def rule_checks(rule: FieldRule) -> list[Check]:
    """The SQL checks of one contract rule, in order; each reason reads ``field: <the rule's reason>``."""
    missing = Check(f"NOT JSON_EXISTS(payload, '$.{rule.field}')", f"{rule.field}: missing")
    return [missing, *_KIND_CHECKS[rule.kind](rule)]


def validation_checks() -> list[Check]:
    """The rules of :class:`fraudstream.messages.Transaction` (``TRANSACTION_RULES``), first failing rule wins."""
    return [*_RECORD_CHECKS, *(check for rule in TRANSACTION_RULES for check in rule_checks(rule))]


def _fast_valid(rule: FieldRule) -> str:
    """The field is plainly valid, judged from its JSON text (string/number shape) and bounds."""
    wrapped = _json_wrapped(rule.field)
    if rule.kind == "text" and rule.pattern:  # the pattern's matches need no JSON escaping (digits)
        in_json = '^\\["' + rule.pattern.strip("^$") + '"\\]$'
        return f"REGEXP({wrapped}, {quote(in_json)})"
    if rule.kind == "text":
        return f"REGEXP({wrapped}, '^\\[\"[^\"]')"
    if rule.kind == "number":
        # Calcite turns BETWEEN into these two comparisons anyway
        low = "" if rule.minimum is None else f" AND {_decimal(rule.field)} >= {rule.minimum:.2f}"
        high = "" if rule.maximum is None else f" AND {_decimal(rule.field)} <= {rule.maximum:.2f}"
        return f"REGEXP({wrapped}, {JSON_NUMBER}){low}{high}"
    return f"{rule.field} IS NOT NULL"


def fast_valid_condition() -> str:
    """True for a valid row, with few JSON parses (each JSON function call parses the payload again).

    Valid rows are the common case, so they are recognised from the JSON text of each field
    (string/number shape) plus the parsed time; only rows failing this check pay for the
    detailed rules that name the reason.
    """
    return " AND ".join([*(_fast_valid(rule) for rule in TRANSACTION_RULES), f"NOT ({NOT_UTF8})"])


def error_expr() -> str:
    """NULL for a valid row, else the first failing rule's reason."""
    whens = "\n    ".join(f"WHEN {c.condition} THEN {quote(c.reason)}" for c in validation_checks())
    return (
        f"CASE WHEN {fast_valid_condition()} THEN CAST(NULL AS STRING) ELSE\n"
        f"  CASE\n    {whens}\n    ELSE CAST(NULL AS STRING)\n  END END"
    )


MERCHANT = "merchant"
"""The transaction's optional merchant: not validated (no rule rejects a transaction for it), carried to
``cc-agg`` so that the scorer can read the merchant's nightly features."""


def merchant_expr() -> str:
    """The ``merchant`` a non-empty JSON string gives, else NULL (absent, null, empty, a number, an object).

    Why NULL rather than a dead letter: the merchant is optional, and a transaction without one is
    still scored (its merchant features are missing); :class:`messages.CardAggregate` accepts only a
    non-empty string or none, so nothing else may reach ``cc-agg``. ``JSON_VALUE`` alone would turn a
    number into text, hence the string-shape test on the wrapped field first.
    """
    return f"CASE WHEN REGEXP({_json_wrapped(MERCHANT)}, '^\\[\"[^\"]') THEN {json_value(MERCHANT)} END"


HEARTBEAT_CONDITION = f"COALESCE(payload LIKE {quote(HEARTBEAT_PREFIX.decode() + '%')}, FALSE)"
"""A clock heartbeat (:class:`messages.Heartbeat`): recognised by its first bytes, without parsing."""


def parsed_view_sql() -> str:
    """Every transaction row with its typed fields and ``error`` (NULL when valid); heartbeats are dropped.

    A heartbeat's ``trans_time`` has already moved the source's watermark (the WATERMARK clause sees
    every source row); past this view it exists nowhere.
    """
    return f"""CREATE TEMPORARY VIEW {PARSED_VIEW} AS
SELECT
  payload, `partition`, `offset`, trans_time, {ARRIVAL_TIME},
  {json_value("tid")} AS tid,
  {json_value("cc_num")} AS cc_num,
  TRY_CAST({json_value("amount")} AS {features.AMOUNT_SQL_TYPE}) AS amount,
  {merchant_expr()} AS {MERCHANT},
  {error_expr()} AS error
FROM {SOURCE_TABLE}
WHERE NOT {HEARTBEAT_CONDITION}"""


WINDOWS_VIEW = "card_windows"
WINDOW_UID = "card-window"
"""The state id of the window function: keep it, and a savepoint of the job stays restorable."""


def valid_view_sql() -> str:
    """Valid transactions (``amount`` as ``features.AMOUNT_SQL_TYPE``) with their arrival time (the rowtime)."""
    return f"""CREATE TEMPORARY VIEW {VALID_VIEW} AS
SELECT payload, `partition`, `offset`, tid, cc_num, amount, {MERCHANT}, trans_time, {ARRIVAL_TIME}
FROM {PARSED_VIEW}
WHERE error IS NULL"""


def function_ddl() -> str:
    """Registers the Java window function (its jar is on ``pipeline.jars``)."""
    from fraudstream.streaming.udf import FUNCTION_CLASS, FUNCTION_NAME

    return f"CREATE TEMPORARY FUNCTION {FUNCTION_NAME} AS {quote(FUNCTION_CLASS)} LANGUAGE JAVA"


def windows_view_sql(cfg: JobConfig) -> str:
    """Every valid row through ``card_window``, partitioned by card; emission on arrival time."""
    from fraudstream.streaming.udf import FUNCTION_NAME

    window_ms = int(features.STREAM_WINDOW.total_seconds() * 1000)
    return f"""CREATE TEMPORARY VIEW {WINDOWS_VIEW} AS
SELECT * FROM {FUNCTION_NAME}(
  input => TABLE {VALID_VIEW} PARTITION BY cc_num,
  on_time => DESCRIPTOR({ARRIVAL_TIME}),
  allowed_delay_ms => CAST({int(cfg.watermark_delay_ms)} AS BIGINT),
  window_ms => CAST({window_ms} AS BIGINT),
  uid => {quote(WINDOW_UID)}
)"""


def agg_sink_ddl(cfg: JobConfig) -> str:
    """``cc-agg``: key = cc_num (raw), value = JSON in the :class:`messages.CardAggregate` shape.

    Null fields are left out (a transaction without a merchant has no ``merchant`` key), as
    ``messages.encode`` writes a ``CardAggregate``. The key, event time and typed window features are
    the stream feature group's (``featurestore.groups.STREAM_GROUP``); the column order is the one
    ``agg_insert_sql`` selects in."""
    group = STREAM_GROUP
    options = {
        **kafka_options(cfg, cfg.topic_agg),
        "key.format": "raw",
        "key.fields": group.record_identifier,
        "value.format": "json",
        "value.json.encode.ignore-null-fields": "true",
        "value.fields-include": "ALL",
        "sink.delivery-guarantee": "at-least-once",
        **SINK_PRODUCER_PROPERTIES,
    }
    feature_cols = ",\n  ".join(f"{f.name} {f.sql_type}" for f in group.features if f.name in WINDOW_OUTPUT)
    return f"""CREATE TEMPORARY TABLE {AGG_SINK} (
  {group.record_identifier} STRING NOT NULL,
  tid STRING,
  amount DOUBLE,
  {group.event_time_field} STRING,
  {feature_cols},
  {MERCHANT} STRING
) WITH (
  {_with(options)}
)"""


def dead_letter_sink_ddl(cfg: JobConfig, table: str = DEAD_LETTER_SINK) -> str:
    """``dead-letter``: key ``<topic>-<partition>-<offset>``, value :class:`messages.DeadLetter`."""
    options = {
        **kafka_options(cfg, cfg.topic_dead_letter),
        "key.format": "raw",
        "key.fields": "dl_key",
        "value.format": "json",
        "value.fields-include": "EXCEPT_KEY",
        "sink.delivery-guarantee": "at-least-once",
        **SINK_PRODUCER_PROPERTIES,
    }
    return f"""CREATE TEMPORARY TABLE {table} (
  dl_key STRING,
  stage STRING,
  source_topic STRING,
  `partition` INT,
  `offset` BIGINT,
  error STRING,
  payload STRING,
  failed_at STRING
) WITH (
  {_with(options)}
)"""


DEAD_LETTER_PAYLOAD_CHARS = 64 * 1024
"""A dead letter carries at most this many characters of its record, as the Python stages cap theirs
(``fraudstream.dead_letter.MAX_PAYLOAD_BYTES``; not imported: the job does not load the handlers'
metrics). JSON escaping can double a record's size (a 1 MB field of quotes), and a dead letter over
the topic's limit failed the whole job, again on every restart from its checkpoint."""


def _dead_letter_select(
    cfg: JobConfig,
    error: str,
    where: str,
    source: str = PARSED_VIEW,
    partition_col: str = "`partition`",
    offset_col: str = "`offset`",
) -> str:
    topic = quote(cfg.topic_transactions)
    cap = DEAD_LETTER_PAYLOAD_CHARS
    long = f"CHAR_LENGTH(payload) > {cap}"
    return f"""SELECT
  {topic} || '-' || CAST({partition_col} AS STRING) || '-' || CAST({offset_col} AS STRING) AS dl_key,
  {quote(DEAD_LETTER_STAGE)} AS stage,
  {topic} AS source_topic,
  {partition_col} AS `partition`,
  {offset_col} AS `offset`,
  CASE WHEN {long} THEN {error} || ' [payload truncated to its first {cap} of '
    || CAST(CHAR_LENGTH(payload) AS STRING) || ' characters]' ELSE {error} END AS error,
  CASE WHEN {long} THEN SUBSTRING(payload FROM 1 FOR {cap}) ELSE COALESCE(payload, '') END AS payload,
  DATE_FORMAT(CURRENT_TIMESTAMP, '{ISO_MILLIS_FORMAT}') AS failed_at
FROM {source}
WHERE {where}"""


def invalid_insert_sql(cfg: JobConfig) -> str:
    return f"INSERT INTO {DEAD_LETTER_SINK}\n" + _dead_letter_select(cfg, "error", "error IS NOT NULL")


LATE_REASON_PREFIX = "late for card "
"""Every per-card late row's ``error`` starts with this (``late for card <cc_num>: ...``)."""


def late_reason_expr(cfg: JobConfig) -> str:
    """``late for card C: trans_time X of tid T is before Y, the newest trans_time already read for
    this card, by more than the allowed per-card delay of D ms``."""
    return (
        f"{quote(LATE_REASON_PREFIX)} || cc_num || ': trans_time ' || DATE_FORMAT(trans_time, '{ISO_MILLIS_FORMAT}') "
        f"|| ' of tid ' || tid || ' is before ' || DATE_FORMAT(card_newest_time, '{ISO_MILLIS_FORMAT}') "
        f"|| {quote(', the newest trans_time already read for this card, by more than the allowed per-card delay')}"
        f" || ' of {int(cfg.watermark_delay_ms)} ms'"
    )


def late_insert_sql(cfg: JobConfig) -> str:
    return f"INSERT INTO {LATE_SINK}\n" + _dead_letter_select(
        cfg, late_reason_expr(cfg), "kind = 'late'", WINDOWS_VIEW, "src_partition", "src_offset"
    )


WINDOW_OUTPUT = {
    features.NUM_TRANS_LAST_10M: "num_trans_last_10m",
    features.AVG_AMT_LAST_10M: "CAST(sum_amt_last_10m AS DOUBLE) / num_trans_last_10m",
    features.MAX_AMT_LAST_10M: "CAST(max_amt_last_10m AS DOUBLE)",
}
"""Each streaming feature from the function's exact COUNT/SUM/MAX, with the same SQL arithmetic as
``features.STREAM_AGGREGATES`` (the mean is CAST(SUM AS DOUBLE) / COUNT, as in Spark)."""
assert set(WINDOW_OUTPUT) == {a.name for a in features.STREAM_AGGREGATES}
assert set(WINDOW_OUTPUT) <= set(STREAM_GROUP.feature_names)


def agg_insert_sql() -> str:
    """The window function's ``agg`` rows into ``cc-agg``."""
    cols = ", ".join(f"{expr} AS {name}" for name, expr in WINDOW_OUTPUT.items())
    return f"""INSERT INTO {AGG_SINK}
SELECT cc_num, tid, CAST(amount AS DOUBLE) AS amount,
  DATE_FORMAT(trans_time, '{ISO_MILLIS_FORMAT}') AS trans_time, {cols}, {MERCHANT}
FROM {WINDOWS_VIEW}
WHERE kind = 'agg'"""


def ddl_statements(cfg: JobConfig) -> list[str]:
    """Tables and views, in the order they must be created."""
    return [
        source_ddl(cfg),
        function_ddl(),
        parsed_view_sql(),
        valid_view_sql(),
        windows_view_sql(cfg),
        agg_sink_ddl(cfg),
        dead_letter_sink_ddl(cfg, DEAD_LETTER_SINK),
        dead_letter_sink_ddl(cfg, LATE_SINK),
    ]


def insert_statements(cfg: JobConfig) -> list[str]:
    """The three INSERTs of the statement set."""
    return [agg_insert_sql(), invalid_insert_sql(cfg), late_insert_sql(cfg)]


def job_script(cfg: JobConfig) -> str:
    """The whole job as one SQL script (for reading, docs and the SQL client)."""
    inserts = ";\n\n".join(insert_statements(cfg))
    ddl = ";\n\n".join(ddl_statements(cfg))
    return f"{ddl};\n\nEXECUTE STATEMENT SET BEGIN\n\n{inserts};\n\nEND;\n"
