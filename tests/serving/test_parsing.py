"""Request parsing: every refusal names its problem (the HTTP layer only maps it to a status)."""

from __future__ import annotations

import math

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
