"""``cc-agg`` records as the handlers consume them: a fast decoder, with the strict one as the referee.

Why: the handlers read thousands of ``cc-agg`` records a second, and the strict pydantic decoder
(:func:`fraudstream.messages.decode`, Python validators on every field) cost ~50-90 µs a record,
more than everything else the scorer does with it. Almost every record is what Flink writes: a
JSON object with the fields in their canonical form. :func:`decode_aggregate` checks exactly
that form with plain type and range tests (~5 µs) and hands anything else — a missing field, an
integral float count, a time with an offset, a NaN, bad JSON — to the strict decoder, which either
accepts it (the values are then the same) or raises :class:`~fraudstream.messages.DecodeError`
with its usual field and reason. So the fast path accepts a subset of what the strict decoder
accepts, with identical values (``tests/handlers/test_scorer_inputs.py`` compares them).

An :class:`Aggregate` keeps ``trans_time`` as its wire text (``2020-01-01T00:00:05.123Z``), which
orders as time and goes to ``predictions`` and the store unchanged.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, NamedTuple, get_type_hints

from fraudstream.featurestore.groups import STREAM_GROUP, check_record_types
from fraudstream.messages import MAX_AMOUNT, RECORD_FIELD, CardAggregate, DecodeError, decode, format_time

_CANONICAL_TIME = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


class Aggregate(NamedTuple):
    """The fields of a valid ``CardAggregate``, ``trans_time`` as its canonical wire text."""

    tid: str
    cc_num: str
    amount: float
    trans_time: str
    num_trans_last_10m: int
    avg_amt_last_10m: float
    max_amt_last_10m: float | None = None
    merchant: str | None = None

    @classmethod
    def from_model(cls, agg: CardAggregate) -> Aggregate:
        return cls(
            agg.tid,
            agg.cc_num,
            agg.amount,
            format_time(agg.trans_time),
            agg.num_trans_last_10m,
            agg.avg_amt_last_10m,
            agg.max_amt_last_10m,
            agg.merchant,
        )

    def store_record(self) -> dict[str, Any]:
        """The record of the stream feature group (``cc-agg-fg``)."""
        return self._asdict()


# Both records carry the stream group's item: its key, window features and tid, typed as the group declares.
check_record_types("CardAggregate", {n: f.annotation for n, f in CardAggregate.model_fields.items()}, STREAM_GROUP)
check_record_types("Aggregate", get_type_hints(Aggregate), STREAM_GROUP)


def _reject_constant(name: str) -> float:
    raise ValueError(name)  # NaN / Infinity: the strict decoder names the field


_FLOAT_MAX = 1e308
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _finite(value: Any) -> bool:
    """A JSON number as the strict decoder takes it: not a bool, finite (and an int that fits a float)."""
    kind = type(value)
    return (kind is float and math.isfinite(value)) or (kind is int and -_FLOAT_MAX < value < _FLOAT_MAX)


def fast_aggregate(value: bytes | bytearray | str | None) -> Aggregate | None:
    """The record when it is a plain canonical ``cc-agg`` record, else None (ask the strict decoder)."""
    if value is None:
        return None
    try:
        obj = _JSON.decode(value if isinstance(value, str) else value.decode("utf-8"))
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, NaN/Infinity, a nesting bomb
        return None
    if type(obj) is not dict:
        return None
    get = obj.get
    tid, cc_num, amount, when = get("tid"), get("cc_num"), get("amount"), get("trans_time")
    count, avg, top = get("num_trans_last_10m"), get("avg_amt_last_10m"), get("max_amt_last_10m")
    if not (type(tid) is str and tid):
        return None
    if not (type(cc_num) is str and len(cc_num) == 16 and cc_num.isascii() and cc_num.isdigit()):
        return None
    if not (_finite(amount) and 0 <= amount <= MAX_AMOUNT):
        return None
    if not (type(when) is str and len(when) == 24 and _CANONICAL_TIME.fullmatch(when)):
        return None
    try:
        datetime.fromisoformat(when)  # a real date and time (month 13 is not)
    except ValueError:
        return None
    if not (type(count) is int and count >= 0):
        return None
    if not _finite(avg):
        return None
    if top is not None and not _finite(top):
        return None
    merchant = get("merchant")
    if not (merchant is None or (type(merchant) is str and merchant)):
        return None
    return Aggregate(tid, cc_num, float(amount), when, count, float(avg), None if top is None else float(top), merchant)


def decode_aggregate(value: bytes | bytearray | str | None) -> Aggregate:
    """A ``cc-agg`` record's fields; raises :class:`~fraudstream.messages.DecodeError` like ``decode`` does."""
    fast = fast_aggregate(value)
    if fast is not None:
        return fast
    try:
        return Aggregate.from_model(decode(CardAggregate, value))  # type: ignore[arg-type]
    except OverflowError as exc:  # an int beyond float range escapes the strict validators: the record's fault
        raise DecodeError(RECORD_FIELD, f"number out of range ({exc})") from None
