"""The SQL validation generated from the contract's rules table agrees with ``messages.decode``.

Both come from ``fraudstream.messages.TRANSACTION_RULES``; this runs the generated parsed view on a
local PyFlink (batch, no cluster) over a VALUES table and checks that it blames the same field.
"""

from __future__ import annotations

import pytest

from fraudstream.messages import DecodeError, Transaction, decode
from fraudstream.streaming import sql

pytestmark = pytest.mark.integration

OK = '"tid":"a","cc_num":"1234567812345678","amount":50.0,"trans_time":"2020-01-01T22:01:00.000Z"'
PAYLOADS = [
    "{" + OK + "}",
    "{" + OK.replace('"tid":"a"', '"tid":""') + "}",
    "{" + OK.replace('"tid":"a"', '"tid":7') + "}",
    "{" + OK.replace('"tid":"a",', "") + "}",
    "{" + OK.replace("1234567812345678", "123456781234567") + "}",
    "{" + OK.replace("50.0", "-1") + "}",
    "{" + OK.replace("50.0", "2000000") + "}",
    "{" + OK.replace("50.0", '"5"') + "}",
    "{" + OK.replace('"2020-01-01T22:01:00.000Z"', "20200101") + "}",
    "{" + OK.replace("2020-01-01T22:01:00.000Z", "yesterday") + "}",
    "{" + OK.replace(".000Z", "Z") + "}",
    "{" + OK.replace('"1234567812345678"', '""') + "}",
    "{" + OK.replace('"1234567812345678"', "1234567812345678") + "}",
    "{" + OK.replace(',"amount":50.0', "") + "}",
    "{" + OK.replace('"amount":50.0,', '"amount":1e400,') + "}",
    "{" + OK.replace('"2020-01-01T22:01:00.000Z"', "null") + "}",
    "null",
    "[1]",
    "nope",
]


def python_field(payload: str) -> str | None:
    try:
        decode(Transaction, payload)
        return None
    except DecodeError as exc:
        return exc.field


def parsed(payloads: list[str], columns: str) -> dict[str, tuple]:
    """``payload -> (columns...)`` of the generated parsed view over ``payloads``, on a local PyFlink."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    values = ", ".join(f"({sql.quote(p)})" for p in payloads)
    t_env.execute_sql(
        f"CREATE TEMPORARY VIEW {sql.SOURCE_TABLE} AS SELECT payload, 0 AS `partition`, "
        f"CAST(0 AS BIGINT) AS `offset`, {sql.trans_time_expr()} AS trans_time, "
        f"CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3)) AS {sql.ARRIVAL_TIME} FROM (VALUES {values}) AS v(payload)"
    )
    t_env.execute_sql(sql.parsed_view_sql())
    with t_env.execute_sql(f"SELECT payload, {columns} FROM {sql.PARSED_VIEW}").collect() as rows:
        return {row[0]: tuple(row[1:]) for row in rows}


def test_sql_rejects_the_same_field_as_messages_decode():
    errors = {payload: error for payload, (error,) in parsed(PAYLOADS, "error").items()}
    assert set(errors) == set(PAYLOADS)
    for payload, error in errors.items():
        field = python_field(payload)
        assert (error is None) == (field is None), (payload, error, field)
        if error is not None:
            assert error.split(":")[0] == field, (payload, error, field)


MERCHANTS = {
    '"merchant":"m-1"': "m-1",
    '"merchant":"caf\\u00e9 \\"x\\""': 'café "x"',
    '"merchant":""': None,
    '"merchant":null': None,
    '"merchant":5': None,
    '"merchant":{"id":"m"}': None,
    '"merchant":["m"]': None,
    '"zip_code":"75001"': None,
}
"""The optional merchant as written -> what ``cc-agg`` carries (None: no merchant key)."""


def test_merchant_passes_through_only_as_a_non_empty_string_and_never_rejects():
    from fraudstream.messages import CardAggregate

    payloads = {"{" + OK + "," + field + "}": want for field, want in MERCHANTS.items()}
    got = parsed(list(payloads), f"{sql.MERCHANT}, error")
    assert got == {payload: (want, None) for payload, want in payloads.items()}
    for want in payloads.values():  # every value that can reach cc-agg is one the contract's model accepts
        agg = CardAggregate(
            tid="a",
            cc_num="1" * 16,
            amount=1.0,
            trans_time="2020-01-01T00:00:00.000Z",
            num_trans_last_10m=1,
            avg_amt_last_10m=1.0,
            merchant=want,
        )
        assert agg.merchant == want
