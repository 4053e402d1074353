"""Request parsing: every refusal names its problem (the HTTP layer only maps it to a status)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from fraudstream.serving.parsing import (
    CSV,
    JSON,
    InputError,
    format_csv,
    parse_csv,
    parse_json,
    request_format,
    response_format,
)

NAMES = ("amount", "amt_ratio1", "amt_ratio2", "count_ratio")


def _refused(fn, *args) -> InputError:
    with pytest.raises(InputError) as info:
        fn(*args)
    return info.value


def test_csv_rows_with_missing_fields_and_header() -> None:
    m = parse_csv(b"amount,amt_ratio1,amt_ratio2,count_ratio\n12.5,1,0.5,0.1\n99,,,\r\n", NAMES)
    assert m.dtype == np.float32 and m.shape == (2, 4)
    assert m[0].tolist() == pytest.approx([12.5, 1, 0.5, 0.1])
    assert m[1, 0] == 99 and np.isnan(m[1, 1:]).all()


@pytest.mark.parametrize(
    ("body", "status", "reason", "fragment"),
    [
        (b"1,2,3\n", 400, "column_count", "line 1 has 3 column(s), expected 4"),
        (b"1,2,3,4\n1,2,3,4,5\n", 400, "column_count", "line 2 has 5"),
        (b"1,2,x,4\n", 400, "non_numeric", "column 3 (amt_ratio2): 'x' is not a number"),
        (b"1,nan,3,4\n", 400, "non_finite", "column 2 (amt_ratio1)"),
        (b"1,2,3,inf\n", 400, "non_finite", "NaN/inf not allowed"),
        (b"1,2,3,1e300\n", 400, "non_finite", "column 4"),
        (b"", 400, "empty_body", "empty body"),
        (b"  \n", 400, "empty_body", "empty body"),
        (b"1,2,3,4\n\n1,2,3,4\n", 400, "empty_line", "line 2 is empty"),
        (b"\xff\xfe", 400, "encoding", "UTF-8"),
    ],
)
def test_csv_refusals(body: bytes, status: int, reason: str, fragment: str) -> None:
    err = _refused(parse_csv, body, NAMES)
    assert (err.status, err.reason) == (status, reason)
    assert fragment in err.message


def test_json_instances_null_and_feature_objects() -> None:
    m = parse_json(b'{"instances": [[1, 2.5, null, 4], {"features": [5, 6, 7, 8]}]}', NAMES)
    assert m.shape == (2, 4) and math.isnan(m[0, 2]) and m[1, 3] == 8
    assert parse_json(b"[[1, 2, 3, 4]]", NAMES).shape == (1, 4)


@pytest.mark.parametrize(
    ("body", "reason", "fragment"),
    [
        (b'{"instances": [[1, 2, 3]]}', "column_count", "instance 0 has 3 value(s), expected 4"),
        (b'{"instances": [[1, "2", 3, 4]]}', "non_numeric", "value 1 (amt_ratio1)"),
        (b'{"instances": [[1, true, 3, 4]]}', "non_numeric", "is not a number"),
        (b'{"instances": [[1, NaN, 3, 4]]}', "non_finite", "NaN"),
        (b'{"instances": [[1, Infinity, 3, 4]]}', "non_finite", "Infinity"),
        (b'{"instances": [[1, 1e300, 3, 4]]}', "non_finite", "float32"),
        (b'{"instances": []}', "empty_body", "empty"),
        (b'{"rows": []}', "bad_json", "instances"),
        (b'{"instances": [[1, 2, 3, 4]', "bad_json", "invalid JSON"),
        (b'{"instances": [7]}', "bad_json", "instance 0 must be a list"),
    ],
)
def test_json_refusals(body: bytes, reason: str, fragment: str) -> None:
    err = _refused(parse_json, body, NAMES)
    assert err.status == 400 and err.reason == reason
    assert fragment in err.message


def test_content_negotiation() -> None:
    assert request_format("text/csv; charset=utf-8") == CSV
    assert request_format("Application/JSON") == JSON
    assert _refused(request_format, "text/plain").status == 415
    assert _refused(request_format, None).status == 415
    assert response_format(None, CSV) == CSV
    assert response_format("*/*", JSON) == JSON
    assert response_format("application/json, text/csv", CSV) == JSON
    assert _refused(response_format, "image/png", CSV).status == 406


def test_csv_output_round_trips_float32_exactly() -> None:
    probabilities = np.array([0.1, 0.987654321, 1e-7], dtype=np.float32)
    text = format_csv(probabilities.astype(float).tolist())
    parsed = np.array([float(line) for line in text.splitlines()], dtype=np.float32)
    np.testing.assert_array_equal(parsed, probabilities)


# --------------------------------------------------------------------------------------------
# Strict numbers, negative values, row caps (issue 13)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("12", 12.0),
        ("+2.5", 2.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-3", 1e-3),
        ("1E+2", 100.0),
        (" 7.25\t", 7.25),
        ("-0", 0.0),
        ("0" * 60 + "1", 1.0),
    ],
)
def test_csv_accepts_ascii_decimal_and_scientific_notation(field: str, expected: float) -> None:
    m = parse_csv(f"{field},1,2,3\n".encode(), NAMES)
    assert m[0, 0] == np.float32(expected) and m[0].tolist()[1:] == [1, 2, 3]


@pytest.mark.parametrize(
    ("field", "reason", "fragment"),
    [
        ("1_000", "non_numeric", "'1_000' is not a number (ASCII decimal or scientific notation only)"),
        ("\u0661\u0662", "non_numeric", "ASCII"),  # Arabic-Indic digits: float() would read 12
        ("\uff11\uff12", "non_numeric", "ASCII"),  # full-width digits
        ("\u00a012", "non_numeric", "ASCII"),  # no-break space around a number
        ("0x10", "non_numeric", "is not a number"),
        ("1e", "non_numeric", "is not a number"),
        ("1.2.3", "non_numeric", "is not a number"),
        ("--1", "non_numeric", "is not a number"),
        ("1 2", "non_numeric", "is not a number"),
        ("1\r", "non_numeric", "is not a number"),  # a lone CR is not a line ending here
        ("nan", "non_finite", "not a finite number"),
        ("-NaN", "non_finite", "not a finite number"),
        ("Infinity", "non_finite", "not a finite number"),
        ("-inf", "non_finite", "not a finite number"),
        ("1e39", "non_finite", "too large for float32"),
        ("9" * 4000, "too_long", "a number of 4,000 characters; at most 64"),
        ("-1", "negative", "-1.0 is negative"),
        ("-1e-30", "negative", "must be >= 0"),
    ],
)
def test_csv_refuses_everything_but_plain_non_negative_numbers(field: str, reason: str, fragment: str) -> None:
    err = _refused(parse_csv, f"1,{field},3,4\n".encode(), NAMES)
    assert (err.status, err.reason) == (400, reason), err.message
    assert fragment in err.message and "column 2 (amt_ratio1)" in err.message


def test_negative_values_are_refused_in_every_column() -> None:
    for j in range(len(NAMES)):
        row = ["1"] * len(NAMES)
        row[j] = "-0.5"
        err = _refused(parse_csv, (",".join(row) + "\n").encode(), NAMES)
        assert err.reason == "negative" and f"({NAMES[j]})" in err.message
        err = _refused(parse_json, json.dumps({"instances": [[float(v) for v in row]]}).encode(), NAMES)
        assert err.reason == "negative" and f"value {j} ({NAMES[j]})" in err.message


def test_row_cap_is_413_and_counts_rows_not_the_header() -> None:
    header = b"amount,amt_ratio1,amt_ratio2,count_ratio\n"
    assert parse_csv(header + b"1,2,3,4\n" * 3, NAMES, max_rows=3).shape == (3, 4)
    err = _refused(parse_csv, b"1,2,3,4\n" * 4, NAMES, 3)
    assert (err.status, err.reason) == (413, "too_many_rows") and "at most 3 rows" in err.message
    assert parse_json(b"[" + b",".join([b"[1,2,3,4]"] * 3) + b"]", NAMES, max_rows=3).shape == (3, 4)
    err = _refused(parse_json, b"[" + b",".join([b"[1,2,3,4]"] * 4) + b"]", NAMES, 3)
    assert (err.status, err.reason) == (413, "too_many_rows")


def test_six_mib_of_empty_rows_is_refused_before_any_parsing() -> None:
    body = b",,,\n" * (6 * 1024 * 1024 // 4)  # the review's 1.5 M empty rows: ~7 s of work before the cap
    started = time.perf_counter()
    err = _refused(parse_csv, body, NAMES)
    assert (err.status, err.reason) == (413, "too_many_rows") and "10,000 rows" in err.message
    assert time.perf_counter() - started < 0.5


def test_csv_line_endings_and_whitespace() -> None:
    m = parse_csv(b"1,2,3,4\r\n5,6,7,8\r\n", NAMES)
    assert m.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert parse_csv(b" amount , amt_ratio1,amt_ratio2,count_ratio\n1,,,\n", NAMES).shape == (1, 4)
    assert _refused(parse_csv, b"amount,amt_ratio1,amt_ratio2,count_ratio\n", NAMES).reason == "empty_body"
    assert _refused(parse_csv, b"1,2,3,4,5,6,7,8,9" + b",1" * 100_000 + b"\n", NAMES).reason == "column_count"
    one = ("x" * 100 + ",1,2,3\n").encode()
    assert _refused(parse_csv, one, NAMES).reason == "too_long"


# --------------------------------------------------------------------------------------------
# JSON: numbers and shapes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "reason", "fragment"),
    [
        (b"[" * (6 * 1024 * 1024), 413, "too_many_rows", "lists/objects"),  # 6 MiB nesting bomb
        (b"[" * 5000 + b"]" * 5000, 400, "bad_json", "nested too deeply"),  # RecursionError inside the limit
        (b'{"instances": [[' + b"9" * 4000 + b", 1, 2, 3]]}", 400, "too_long", "4,000 characters"),
        (b'{"instances": [[' + b"9" * 5000 + b", 1, 2, 3]]}", 400, "too_long", "5,000 characters"),
        (b'{"instances": [[1, 2, 3, 4]], "x": 1}', 400, "bad_json", "second key"),
        (b'{"rows": [[1, 2, 3, 4]]}', 400, "bad_json", "unexpected key 'rows'"),
        (b'{"instances": {"a": 1}}', 400, "bad_json", '"instances" must be a list'),
        (b'{"instances": [{"values": [1, 2, 3, 4]}]}', 400, "bad_json", "instance 0 must be a list"),
        (b'{"instances": [[1, 2, 3, 4]]} []', 400, "bad_json", "Extra data"),
        (b'{"instances": [[1, 2, 3, 4],]}', 400, "bad_json", "Expecting value"),
        (b"{}", 400, "bad_json", "instances"),
        (b"5", 400, "bad_json", "instances"),
        (b'"instances"', 400, "bad_json", "instances"),
        (b"[]", 400, "empty_body", "empty"),
        (b"[[1, 2, 3, 4]", 400, "bad_json", "invalid JSON"),
        (b'{"instances": [[1, 2]', 400, "bad_json", "invalid JSON"),  # syntax first, as json.loads did
        (b"[[1, 2, 3, -4]]", 400, "negative", "value 3 (count_ratio)"),
        (b"[[1, 2, 3, -Infinity]]", 400, "non_finite", "-Infinity"),
        (b"[[1, 2, 3, 1e400]]", 400, "non_finite", "float32"),
        (b"[[1, 2, 3, false]]", 400, "non_numeric", "is not a number"),
        (b"[[1, 2, 3, [4]]]", 400, "non_numeric", "is not a number"),
        (b"[[1, 2, 3, 4]]" + b" " * 10 + b",", 400, "bad_json", "Extra data"),
        ("[[1, 2, 3, \u0664]]".encode(), 400, "bad_json", "invalid JSON"),  # non-ASCII digit
        (b"[[1, 2, 3, 1_0]]", 400, "bad_json", "invalid JSON"),
        (b"[[1, 2, 3, 0x1]]", 400, "bad_json", "invalid JSON"),
        (b"[" + b"[1,2,3,4]," * 3000 + b"[1,2,3,4]" + b"]", 413, "too_many_rows", "at most 1,000 rows"),
    ],
)
def test_json_refusals_are_4xx_with_a_message(body: bytes, status: int, reason: str, fragment: str) -> None:
    max_rows = 1_000 if body.count(b"[1,2,3,4]") > 1000 else 10_000
    err = _refused(parse_json, body, NAMES, max_rows)
    assert (err.status, err.reason) == (status, reason), err.message
    assert fragment in err.message


def test_json_integers_are_read_as_floats_and_big_ones_are_a_plain_400() -> None:
    m = parse_json(b'{"instances": [[12, 0, 3, 4], {"features": [1, 2, 3, 4]}]}', NAMES)
    assert m.tolist() == [[12, 0, 3, 4], [1, 2, 3, 4]]
    err = _refused(parse_json, b"[[" + b"9" * 4000 + b", 1, 2, 3]]", NAMES, 10, 10_000)  # longer numbers allowed
    assert (err.status, err.reason) == (400, "non_finite") and "float32" in err.message


# --------------------------------------------------------------------------------------------
# Content negotiation (RFC 9110 §12.5.1)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "request_kind", "expected"),
    [
        ("application/*", CSV, JSON),
        ("text/*", JSON, CSV),
        ("*/*", CSV, CSV),
        ("*/*", JSON, JSON),
        ("text/csv;q=0.5, application/json", CSV, JSON),
        ("text/csv, application/json;q=0.9", JSON, CSV),
        ("text/csv;q=0, */*", CSV, JSON),  # explicitly not CSV, anything else is fine
        ("application/json;q=0, text/*;q=0.1", JSON, CSV),
        ("image/png, */*;q=0.1", JSON, JSON),
        ("application/json; charset=utf-8", CSV, JSON),
        ("Application/JSON", CSV, JSON),
        ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", CSV, CSV),  # a browser
        ("text/csv;q=1.000, application/json;q=1", JSON, CSV),  # a tie: the first one listed
        ("text/csv;q=oops, application/json", CSV, JSON),  # a malformed range is ignored
        (" , ", CSV, CSV),
    ],
)
def test_accept_with_wildcards_and_q_values(accept: str, request_kind: str, expected: str) -> None:
    assert response_format(accept, request_kind) == expected


@pytest.mark.parametrize(
    "accept", ["image/png", "text/html", "*/*;q=0", "text/csv;q=0, application/json;q=0", "application/*;q=0.0", "x"]
)
def test_406_only_when_nothing_acceptable(accept: str) -> None:
    for kind in (CSV, JSON):
        err = _refused(response_format, accept, kind)
        assert (err.status, err.reason) == (406, "accept")


def test_padding_around_fields_does_not_count_as_length() -> None:
    field = "1." + "0" * 62  # 64 characters: the limit
    m = parse_csv(f"  {field}  ,1,1,1\n".encode(), NAMES)
    assert m[0].tolist() == [1, 1, 1, 1]
    err = _refused(parse_csv, ("1" + " " * 300 + ",1,1,1\n").encode(), NAMES)
    assert err.reason == "too_long" and "line 1 has 307 characters" in err.message
