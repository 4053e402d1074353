"""Every record that travels on a Kafka topic, and the one JSON codec all producers and consumers use.

Why one module: the generator, the producer, the Flink job's schema, the handlers and the
scorer all agree on field names, types and time format only if they share these models.
Decoding is strict on purpose: a bad record raises :class:`DecodeError` naming the field and the
reason, so that the caller can route it to the ``dead-letter`` topic instead of guessing.

Time is UTC everywhere; on the wire a timestamp is ISO-8601 with milliseconds and ``Z``
(``2020-01-01T00:00:05.123Z``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from fraudstream import features

MAX_AMOUNT = 1_000_000.0
"""Largest amount (dollars) a transaction may carry; anything above is treated as corrupt."""

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""The wire time as ``strftime``, ``%f`` standing for milliseconds (3 digits): ``2020-01-01T00:00:05.123Z``.
The Flink job's ``DATE_FORMAT`` pattern is derived from it (``streaming.sql``)."""
TIME_EXAMPLE = "2020-01-01T00:00:05.123Z"

RECORD_FIELD = "<record>"
"""``DecodeError.field`` when the whole record is wrong (not JSON, not an object)."""


# --------------------------------------------------------------------------------------------
# The transaction contract: one table of rules
# --------------------------------------------------------------------------------------------
FieldKind = Literal["text", "number", "time"]


@dataclass(frozen=True)
class FieldRule:
    """One field of the transaction contract: its type, pattern, bounds and the reasons it fails with.

    Why a table: the pydantic validators below, the Flink job's SQL checks (``streaming.sql``) and the
    producer's Arrow column checks (``record_source``) are all generated from these rows, so a rule
    (a pattern, a bound, a reason) is changed here and nowhere else. Python reasons add the offending
    value (``negative amount -1.0``); the engines give the same reason without it.
    """

    field: str
    kind: FieldKind
    expected: str
    """What the field must be, for ``wrong type: expected ...``."""
    pattern: str | None = None
    """Regex (anchored) the text must match; for ``time`` the accepted ISO-8601 renderings."""
    pattern_reason: str = ""
    minimum: float | None = None
    below_reason: str = ""
    maximum: float | None = None
    above_reason: str = ""

    def pattern_message(self, value: object = None) -> str:
        """``card number must be 16 digits`` (engines), with ``, got '123'`` in Python."""
        return self.pattern_reason if value is None else f"{self.pattern_reason}, got {value!r}"

    def below_message(self, value: float | None = None) -> str:
        """``negative amount`` (engines), with the value in Python."""
        return self.below_reason if value is None else f"{self.below_reason} {value}"

    def above_message(self, value: float | None = None) -> str:
        """``absurd amount (above 1000000)`` (engines), with the value before the bound in Python."""
        shown = "" if value is None else f" {value}"
        return f"{self.above_reason}{shown} (above {self.maximum:.0f})"


TID_RULE = FieldRule("tid", "text", "a string")
CC_NUM_RULE = FieldRule(
    "cc_num", "text", "a 16-digit string", pattern=r"^[0-9]{16}$", pattern_reason="card number must be 16 digits"
)
AMOUNT_RULE = FieldRule(
    "amount",
    "number",
    "a number",
    minimum=0,
    below_reason="negative amount",
    maximum=MAX_AMOUNT,
    above_reason="absurd amount",
)
TRANS_TIME_RULE = FieldRule(
    "trans_time",
    "time",
    "an ISO-8601 time string",
    pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z?$",
    pattern_reason="unparseable time",
)
TRANSACTION_RULES: tuple[FieldRule, ...] = (TID_RULE, CC_NUM_RULE, AMOUNT_RULE, TRANS_TIME_RULE)
"""The required fields of a :class:`Transaction`, in the order a record is checked (first failure wins)."""

EMPTY_REASON = "must not be empty"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class DecodeError(ValueError):
    """A record that cannot be decoded: ``field`` says where, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def _fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose text is ``message`` verbatim (becomes ``DecodeError.reason``)."""
    return PydanticCustomError(kind, "{reason}", {"reason": message})


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------
def format_time(dt: datetime) -> str:
    """``2020-01-01T00:00:05.123Z``: UTC, milliseconds, ``Z`` (naive datetimes are taken as UTC)."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.strftime(TIME_FORMAT.replace("%f", f"{dt.microsecond // 1000:03d}"))


def parse_time(value: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (no offset means UTC).

    Accepts ``T`` or space as separator and any fraction length, so Flink's and Spark's
    renderings parse too. Raises ``ValueError`` when the text is not a timestamp.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 string, got {type(value).__name__}")
    text = value.strip()
    if not text or not text[0].isdigit():
        raise ValueError(f"unparseable time {value!r}")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unparseable time {value!r}") from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _to_millis(dt: datetime) -> datetime:
    """Truncate to whole milliseconds, the wire precision, so that decode(encode(x)) == x."""
    return dt.replace(microsecond=dt.microsecond - dt.microsecond % 1000)


def _validate_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _to_millis(value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))
    if not isinstance(value, str):
        raise _fail("wrong_type", f"wrong type: expected {TRANS_TIME_RULE.expected}, got {_type_name(value)}")
    try:
        return _to_millis(parse_time(value))
    except ValueError:
        raise _fail("bad_time", f"{TRANS_TIME_RULE.pattern_reason} {value!r}") from None


UtcTime = Annotated[
    datetime,
    BeforeValidator(_validate_time),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [TIME_EXAMPLE]}),
]
"""An aware UTC datetime, ISO-8601 with milliseconds and ``Z`` on the wire."""


# --------------------------------------------------------------------------------------------
# Field types with precise error messages
# --------------------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: Any) -> float:
    """A JSON number (not a bool, not a string), finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail("wrong_type", f"wrong type: expected a number, got {_type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail("not_finite", f"not a finite number ({value})")
    return float(value)


def _validate_amount(value: Any) -> float:
    amount = _number(value)
    rule = AMOUNT_RULE
    if rule.minimum is not None and amount < rule.minimum:
        raise _fail("below_minimum", rule.below_message(amount))
    if rule.maximum is not None and amount > rule.maximum:
        raise _fail("above_maximum", rule.above_message(amount))
    return amount


def _validate_count(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail("not_finite", f"not a finite number ({value})")
        raise _fail("wrong_type", f"wrong type: expected an integer, got {_type_name(value)}")
    if value < 0:
        raise _fail("negative_count", f"negative count {value}")
    return value


def _validate_probability(value: Any) -> float:
    p = _number(value)
    if not 0.0 <= p <= 1.0:
        raise _fail("out_of_range", f"probability {p} outside [0, 1]")
    return p


def _text_validator(rule: FieldRule) -> Any:
    """The validator of a ``text`` rule: a string, matching the rule's pattern (else not empty)."""
    regex = re.compile(rule.pattern) if rule.pattern else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail("wrong_type", f"wrong type: expected {rule.expected}, got {_type_name(value)}")
        if regex is not None:
            if not regex.match(value):
                raise _fail("pattern", rule.pattern_message(value))
        elif not value:
            raise _fail("empty", EMPTY_REASON)
        return value

    return check


_validate_cc_num = _text_validator(CC_NUM_RULE)
_validate_text = _text_validator(TID_RULE)


def _validate_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _fail("wrong_type", f"wrong type: expected a boolean (or 0/1), got {_type_name(value)}")


def _optional(validator: Any) -> Any:
    def check(value: Any) -> Any:
        return None if value is None else validator(value)

    return check


_NUMBER_SCHEMA = {"type": "number"}
_NULLABLE_NUMBER_SCHEMA = {"type": ["number", "null"]}
_COUNT_SCHEMA = {"type": "integer", "minimum": 0}
_NULLABLE_COUNT_SCHEMA = {"type": ["integer", "null"], "minimum": 0}

Amount = Annotated[
    float,
    BeforeValidator(_validate_amount),
    WithJsonSchema(
        {
            "type": "number",
            "minimum": AMOUNT_RULE.minimum,
            "maximum": AMOUNT_RULE.maximum,
            "description": "decimal dollars",
        }
    ),
]
CardNumber = Annotated[
    str, BeforeValidator(_validate_cc_num), WithJsonSchema({"type": "string", "pattern": CC_NUM_RULE.pattern})
]
Text = Annotated[str, BeforeValidator(_validate_text), WithJsonSchema({"type": "string", "minLength": 1})]
FiniteFloat = Annotated[float, BeforeValidator(_number), WithJsonSchema(_NUMBER_SCHEMA)]
OptionalFloat = Annotated[float | None, BeforeValidator(_optional(_number)), WithJsonSchema(_NULLABLE_NUMBER_SCHEMA)]
Count = Annotated[int, BeforeValidator(_validate_count), WithJsonSchema(_COUNT_SCHEMA)]
OptionalCount = Annotated[
    int | None, BeforeValidator(_optional(_validate_count)), WithJsonSchema(_NULLABLE_COUNT_SCHEMA)
]
Probability = Annotated[
    float, BeforeValidator(_validate_probability), WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})
]
Flag = Annotated[bool, BeforeValidator(_validate_flag), WithJsonSchema({"type": "boolean"})]
OptionalText = Annotated[
    str | None, BeforeValidator(_optional(_validate_text)), WithJsonSchema({"type": ["string", "null"]})
]
OptionalOffset = Annotated[
    int | None, BeforeValidator(_optional(_validate_count)), WithJsonSchema(_NULLABLE_COUNT_SCHEMA)
]
OptionalUtcTime = Annotated[
    datetime | None,
    BeforeValidator(_optional(_validate_time)),
    PlainSerializer(lambda dt: None if dt is None else format_time(dt), return_type=str | None, when_used="json"),
    WithJsonSchema({"type": ["string", "null"], "format": "date-time", "examples": [TIME_EXAMPLE]}),
]
"""Like ``UtcTime``, or null."""


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------
class Message(BaseModel):
    """Base of every topic record: unknown fields are ignored (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    omit_none_on_wire: ClassVar[bool] = False
    """When True, fields that are None are left out of the JSON (optional extras only)."""


class Transaction(Message):
    """One card transaction on ``transactions`` (key: ``cc_num``)."""

    omit_none_on_wire: ClassVar[bool] = True

    tid: Text
    cc_num: CardNumber
    amount: Amount
    trans_time: UtcTime
    merchant: OptionalText = None
    zip_code: OptionalText = None


class Label(Message):
    """A label decision on ``labels`` (append-only; the latest per ``tid`` wins). Key: ``cc_num``."""

    omit_none_on_wire: ClassVar[bool] = True

    tid: Text
    is_fraud: Flag
    labelled_at: UtcTime
    cc_num: Annotated[
        str | None, BeforeValidator(_optional(_validate_cc_num)), WithJsonSchema({"type": ["string", "null"]})
    ] = None


class CardAggregate(Message):
    """A transaction enriched by the Flink 10-minute window, on ``cc-agg``."""

    omit_none_on_wire: ClassVar[bool] = True

    tid: Text
    cc_num: CardNumber
    amount: Amount
    trans_time: UtcTime
    num_trans_last_10m: Count
    avg_amt_last_10m: FiniteFloat
    max_amt_last_10m: OptionalFloat = None
    merchant: OptionalText = None
    """The transaction's merchant, when the stream carries it: the scorer reads its merchant features."""


class Prediction(Message):
    """A scored transaction on ``predictions``: the inputs the model saw, the raw aggregates, the verdict."""

    tid: Text
    cc_num: CardNumber
    amount: Amount
    trans_time: UtcTime
    # model inputs (names from fraudstream.features; ratios are null when the card has no 1-week history)
    amt_ratio1: OptionalFloat
    amt_ratio2: OptionalFloat
    count_ratio: OptionalFloat
    max_amt_ratio: OptionalFloat = None
    # raw aggregates
    num_trans_last_10m: Count
    avg_amt_last_10m: FiniteFloat
    max_amt_last_10m: OptionalFloat = None
    num_trans_last_1w: OptionalCount
    avg_amt_last_1w: OptionalFloat
    batch_as_of: OptionalUtcTime = None
    """When the 1-week features used were computed (their ``as_of`` in the store); null without history,
    absent from records written before it existed. The monitor's 1-week feature age: ``scored_at - batch_as_of``."""
    # verdict
    fraud_probability: Probability
    is_fraud: Flag
    threshold: Probability
    model_version: Text
    feature_set: Text
    scored_at: UtcTime


class DeadLetter(Message):
    """A rejected record on ``dead-letter``: where it came from, why it failed, and its raw payload."""

    stage: Text
    source_topic: Text
    partition: OptionalOffset
    offset: OptionalOffset
    error: Text
    payload: Annotated[str, WithJsonSchema({"type": "string"})]
    failed_at: UtcTime


HEARTBEAT_PREFIX = b'{"control":"heartbeat"'
"""Every heartbeat value starts with these bytes (``control`` is its first field), so a consumer of
``transactions`` (the Flink job's SQL, the handlers, any reader) tells one apart without parsing."""


class Heartbeat(Message):
    """A control record of the stream clock on ``transactions``: moves event time, carries no transaction.

    The clock sends one to every partition every few milliseconds, so that Flink's watermark (the
    minimum over partitions) keeps up with the wall clock when traffic is quiet. The Flink job reads
    its ``trans_time`` for the watermark and drops the record before any validation, window or sink:
    a heartbeat never reaches ``cc-agg``, the store, the model, ``predictions`` or a report.
    """

    control: Literal["heartbeat"] = "heartbeat"
    trans_time: UtcTime
    clock: Text
    seq: Count


def is_heartbeat(value: bytes | bytearray | str | None) -> bool:
    """True when a ``transactions`` value is a clock heartbeat rather than a transaction."""
    if value is None:
        return False
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return raw.startswith(HEARTBEAT_PREFIX)


RECORD_MODELS: dict[str, type[Message]] = {
    "transaction": Transaction,
    "heartbeat": Heartbeat,
    "label": Label,
    "card_aggregate": CardAggregate,
    "prediction": Prediction,
    "dead_letter": DeadLetter,
}
"""Every topic record by schema name (``schemas/<name>.schema.json``)."""

# The feature names are defined once, in fraudstream.features; fail at import if they drift.
_PREDICTION_FIELDS = set(Prediction.model_fields)
assert set(features.ANCHOR_INPUTS) <= _PREDICTION_FIELDS
assert set(features.EXTENDED_INPUTS) <= _PREDICTION_FIELDS
assert set(features.STREAM_FEATURES) <= _PREDICTION_FIELDS
assert set(features.BATCH_FEATURES) <= _PREDICTION_FIELDS
assert set(features.STREAM_FEATURES) <= set(CardAggregate.model_fields)


# --------------------------------------------------------------------------------------------
# Codec
# --------------------------------------------------------------------------------------------
M = TypeVar("M", bound=Message)


def _reject_constant(name: str) -> float:
    # NaN / Infinity literals are not JSON; let the field validator name the field instead.
    return float(name.replace("Infinity", "inf"))


def decode(model_cls: type[M], data: bytes | bytearray | str | dict[str, Any]) -> M:
    """Decode one JSON record into ``model_cls``; raises :class:`DecodeError` (field + reason)."""
    if isinstance(data, dict):
        obj: Any = data
    else:
        if data is None:
            raise DecodeError(RECORD_FIELD, "empty record (null value)")
        try:
            obj = json.loads(data, parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(RECORD_FIELD, f"not valid JSON ({exc})") from None
        except RecursionError:  # a nesting bomb: the parser's recursion limit, not a server fault
            raise DecodeError(RECORD_FIELD, "not valid JSON (nested too deeply)") from None
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits (int max str digits)
            raise DecodeError(RECORD_FIELD, f"not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise DecodeError(RECORD_FIELD, f"expected a JSON object, got {_type_name(obj)}")
    try:
        return model_cls.model_validate(obj)
    except ValidationError as exc:
        raise _as_decode_error(exc) from None


def _as_decode_error(exc: ValidationError) -> DecodeError:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err["loc"]) or RECORD_FIELD
    if err["type"] == "missing":
        return DecodeError(field, "missing")
    return DecodeError(field, err["msg"])


def encode(model: Message) -> bytes:
    """The JSON bytes of a record, times as ``...123Z``; optional extras left out when None."""
    return model.model_dump_json(exclude_none=model.omit_none_on_wire).encode()


def to_wire_dict(model: Message) -> dict[str, Any]:
    """The record as JSON-compatible Python values (what ``encode`` writes)."""
    return model.model_dump(mode="json", exclude_none=model.omit_none_on_wire)


def payload_text(raw: bytes | str | None) -> str:
    """A raw Kafka value as text for ``DeadLetter.payload`` (undecodable bytes are escaped, never lost)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return raw.decode("utf-8", errors="backslashreplace")
