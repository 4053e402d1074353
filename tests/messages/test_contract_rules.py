"""The transaction contract is one rules table: the SQL and Arrow checks are generated from it.

The Flink run of the generated SQL is ``tests/flink/test_validation_sql.py``; these need no engine.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from fraudstream.messages import (
    AMOUNT_RULE,
    CC_NUM_RULE,
    TIME_FORMAT,
    TRANSACTION_RULES,
    DecodeError,
    Transaction,
    decode,
    format_time,
)
from fraudstream.record_source import _invalid_rows, rule_violations
from fraudstream.streaming import sql

GOOD = {"tid": "t1", "cc_num": "4111111111111111", "amount": 12.5, "trans_time": datetime(2020, 1, 1, tzinfo=UTC)}
BAD_VALUES = [
    ("tid", ""),
    ("tid", None),
    ("cc_num", "411111111111111"),
    ("cc_num", "4111-1111-1111-11"),
    ("cc_num", ""),
    ("cc_num", None),
    ("amount", -0.01),
    ("amount", 2_000_000.0),
    ("amount", math.nan),
    ("amount", math.inf),
    ("amount", None),
    ("trans_time", None),
]


def python_rejects(row: dict[str, object]) -> str | None:
    payload = {k: format_time(v) if isinstance(v, datetime) else v for k, v in row.items()}
    if any(isinstance(v, float) and not math.isfinite(v) for v in payload.values()):
        return "amount"  # JSON has no NaN: decode sees the literal and names the field
    try:
        decode(Transaction, json.dumps({k: v for k, v in payload.items() if v is not None}))
    except DecodeError as exc:
        return exc.field
    return None


def test_every_rule_field_is_a_transaction_field() -> None:
    assert [r.field for r in TRANSACTION_RULES] == [
        f for f in Transaction.model_fields if Transaction.model_fields[f].is_required()
    ]


def test_arrow_checks_reject_the_rows_decode_rejects() -> None:
    rows = [GOOD] + [{**GOOD, field: value} for field, value in BAD_VALUES]
    table = pa.table(
        {
            "tid": pa.array([r["tid"] for r in rows], pa.string()),
            "cc_num": pa.array([r["cc_num"] for r in rows], pa.string()),
            "amount": pa.array([r["amount"] for r in rows], pa.float64()),
            "trans_time": pa.array([r["trans_time"] for r in rows], pa.timestamp("ms", tz="UTC")),
        }
    )
    bad = _invalid_rows(table).tolist()
    assert bad == [python_rejects(r) is not None for r in rows]


def test_sql_checks_cover_every_rule_in_order() -> None:
    fields = [c.reason.split(":")[0] for c in sql.validation_checks()]
    named = [f for f in fields if f != "<record>"]
    assert list(dict.fromkeys(named)) == [r.field for r in TRANSACTION_RULES]
    assert sum(CC_NUM_RULE.pattern in c.condition for c in sql.validation_checks()) == 1
    assert CC_NUM_RULE.pattern.strip("^$") in sql.fast_valid_condition()


def test_a_changed_rule_changes_every_generated_check() -> None:
    strict = dataclasses.replace(AMOUNT_RULE, maximum=100.0)
    reasons = {c.reason for c in sql.rule_checks(strict)}
    assert "amount: absurd amount (above 100)" in reasons
    assert any("> 100.00" in c.condition for c in sql.rule_checks(strict))
    column = pa.array([50.0, 150.0])
    flagged = [any(bool(check[i].as_py()) for check in rule_violations(strict, column)) for i in range(2)]
    assert flagged == [False, True]


@pytest.mark.parametrize(
    ("fmt", "java"),
    [(TIME_FORMAT, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), ("%Y/%m/%d %H:%M", "yyyy/MM/dd HH:mm")],
)
def test_flink_time_pattern_is_derived_from_the_messages_format(fmt: str, java: str) -> None:
    assert sql.java_time_format(fmt) == java
    assert sql.ISO_MILLIS_FORMAT == "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"
