"""Property-based tests of the request parsers (hypothesis): any input is either a valid float32 matrix
or a 4xx ``InputError`` (never another exception, never slow), and valid inputs round-trip exactly."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fraudstream.serving.parsing import (
    CSV,
    JSON,
    InputError,
    format_csv,
    format_json,
    parse_csv,
    parse_json,
    response_format,
)

NAMES = ("amount", "amt_ratio1", "amt_ratio2", "count_ratio", "num_trans_last_10m", "max_amt_ratio")
WIDTH = len(NAMES)
MAX_ROWS = 50
# No example database: nothing is written into the work tree (failures print their reproducing example).
FUZZ = settings(max_examples=300, deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=150, deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow])

FLOAT32_SAFE = 3.0e38  # below float32's maximum even after rounding a printed form
values = st.one_of(
    st.none(),
    st.floats(min_value=0.0, max_value=FLOAT32_SAFE, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10**30),
)
rows = st.lists(st.lists(values, min_size=WIDTH, max_size=WIDTH), min_size=1, max_size=MAX_ROWS)


def _outcome(parse, body: bytes) -> np.ndarray | None:
    """Parse ``body``; a refusal must be a 4xx with a message, a success a matrix the model can take."""
    try:
        matrix = parse(body, NAMES, MAX_ROWS)
    except InputError as err:
        assert 400 <= err.status < 500 and err.reason and err.message
        return None
    assert matrix.dtype == np.float32 and matrix.ndim == 2 and matrix.shape[1] == WIDTH
    assert 1 <= matrix.shape[0] <= MAX_ROWS
    assert not np.isinf(matrix).any()
    assert not (matrix[~np.isnan(matrix)] < 0).any()
    return matrix


# --------------------------------------------------------------------------------------------
# Valid inputs round-trip
# --------------------------------------------------------------------------------------------
@st.composite
def csv_field(draw: st.DrawFn, value: float | int | None) -> str:
    if value is None:
        text = ""
    else:
        style = draw(st.sampled_from(["repr", "e", "g17", "f6", "int", "plus", "upper"]))
        v = float(value)
        text = {
            "repr": repr(value),
            "e": f"{v:e}",
            "g17": f"{v:.17g}",
            "f6": f"{v:.6f}",
            "int": str(int(v)),
            "plus": "+" + repr(v),
            "upper": f"{v:E}",
        }[style]
    pad = st.sampled_from(["", " ", "\t", "  "])
    return draw(pad) + text + draw(pad)


@given(data=st.data(), matrix=rows, header=st.booleans(), crlf=st.booleans(), final_newline=st.booleans())
@ROUND_TRIP
def test_csv_round_trips(data: st.DataObject, matrix: list, header: bool, crlf: bool, final_newline: bool) -> None:
    lines = [[data.draw(csv_field(v)) for v in row] for row in matrix]
    end = "\r\n" if crlf else "\n"
    text = end.join(",".join(fields) for fields in lines)
    if header:
        text = ",".join(NAMES) + end + text
    if final_newline:
        text += end
    expected = np.array([[float(f) if f.strip() else math.nan for f in fields] for fields in lines], dtype=np.float32)
    parsed = parse_csv(text.encode(), NAMES, MAX_ROWS)
    np.testing.assert_array_equal(parsed, expected)


@given(matrix=rows, wrap=st.sampled_from(["instances", "bare", "features"]), indent=st.sampled_from([None, 0, 2]))
@ROUND_TRIP
def test_json_round_trips(matrix: list, wrap: str, indent: int | None) -> None:
    instances = [{"features": row} for row in matrix] if wrap == "features" else matrix
    doc = instances if wrap == "bare" else {"instances": instances}
    parsed = parse_json(json.dumps(doc, indent=indent).encode(), NAMES, MAX_ROWS)
    expected = np.array([[math.nan if v is None else float(v) for v in row] for row in matrix], dtype=np.float32)
    np.testing.assert_array_equal(parsed, expected)


# --------------------------------------------------------------------------------------------
# No input gives anything but a matrix or a 4xx
# --------------------------------------------------------------------------------------------
CSV_ALPHABET = st.sampled_from(
    list("0123456789,.,-+eE \t\n\r_xnaifINAF,,,,\n\n") + ["\u0661", "\uff11", "\u00a0", "\u2003", "\x00", "\ufeff"]
)


@given(body=st.binary(max_size=3000))
@FUZZ
@example(body=b",,,,,\n" * (MAX_ROWS + 5))
@example(body=b"\xef\xbb\xbf1,2,3,4,5,6\n")  # a UTF-8 byte-order mark
@example(body=b"1,2,3,4,5," + b"9" * 400 + b"\n")
def test_csv_any_bytes(body: bytes) -> None:
    _outcome(parse_csv, body)


@given(text=st.text(alphabet=CSV_ALPHABET, max_size=600))
@FUZZ
@example(text="1_0,1,1,1,1,1")
@example(text="nan,1,1,1,1,1")
@example(text="1e999,1,1,1,1,1")
def test_csv_any_numberish_text(text: str) -> None:
    _outcome(parse_csv, text.encode())


@given(body=st.lists(st.lists(st.text(alphabet=CSV_ALPHABET, max_size=12), min_size=WIDTH, max_size=WIDTH)))
@FUZZ
def test_csv_any_fields_in_the_right_shape(body: list) -> None:
    _outcome(parse_csv, "\n".join(",".join(r) for r in body).encode())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**80), max_value=10**80)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=60,
)


@given(doc=json_values, wrap=st.sampled_from(["raw", "instances", "rows"]))
@FUZZ
def test_json_any_document(doc: object, wrap: str) -> None:
    if wrap == "instances":
        doc = {"instances": doc}
    elif wrap == "rows":
        doc = {"instances": [doc] * 3}
    _outcome(parse_json, json.dumps(doc).encode())  # json.dumps writes NaN/Infinity for non-finite floats


@given(body=st.binary(max_size=2000))
@FUZZ
@example(body=b"[" * 3000)
@example(body=b"[" * 900 + b"]" * 900)
@example(body=b"[[" + b"9" * 5000 + b",1,1,1,1,1]]")
@example(body=b'{"instances": [[1,1,1,1,1,1]], "instances": [[1,1,1,1,1,1]]}')
def test_json_any_bytes(body: bytes) -> None:
    _outcome(parse_json, body)


@given(text=st.text(alphabet=st.sampled_from(list('[]{}",:0123456789.eE-+ nultrfasNIiy\n') + ["\u0664"]), max_size=400))
@FUZZ
def test_json_any_jsonish_text(text: str) -> None:
    _outcome(parse_json, text.encode())


@given(accept=st.text(max_size=120), kind=st.sampled_from([CSV, JSON]))
@FUZZ
@example(accept="text/csv;q=0.5;q=2, */*;q=", kind=CSV)
def test_accept_is_a_format_or_406(accept: str, kind: str) -> None:
    try:
        assert response_format(accept, kind) in (CSV, JSON)
    except InputError as err:
        assert err.status == 406


@given(
    probabilities=st.lists(st.floats(min_value=0, max_value=1).map(lambda v: float(np.float32(v))), max_size=3000),
    version=st.text(max_size=20),
)
@ROUND_TRIP
def test_chunked_formatting_equals_the_plain_one(probabilities: list[float], version: str) -> None:
    payload = {"predictions": probabilities, "model_version": version, "threshold": 0.5, "feature_set": "extended"}
    text = format_json(probabilities, model_version=version, threshold=0.5, feature_set="extended")
    assert text == json.dumps(payload)
    assert format_json(probabilities) == json.dumps({"predictions": probabilities})
    assert format_csv(probabilities) == "".join(f"{p!r}\n" for p in probabilities) or not probabilities
