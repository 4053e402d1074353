"""Request bodies → float32 input matrices, with a 4xx ``InputError`` naming each problem.

CSV: one transaction per line, the model's inputs in order, an empty field is a missing value; an
optional first line with exactly the model's input names is skipped.
JSON: ``{"instances": [[...], ...]}`` (``null`` = missing; ``{"features": [...]}`` rows and a bare
list of rows are accepted too; no other top-level key).

Numbers are strict: ASCII decimal or scientific notation only (``12``, ``-0.5``, ``.5``, ``1.``,
``1e-3``, ``+2``; spaces or tabs around a CSV field are ignored). Refused with 400: underscores
(``1_000``), non-ASCII digits, hexadecimal, the literals NaN/inf/Infinity (a missing value is written
as an empty field or ``null``, so a NaN that reaches the model always means "unknown", never a bug
upstream passed through), values beyond float32, and numbers longer than ``max_field_chars``.

Negative values are refused (400 ``negative``) in every column: each model input of every feature
set is an amount (``amount``, >= 0 like the ``transactions`` records), a count (``num_trans_last_10m``)
or a ratio of non-negative amounts or counts (``amt_ratio1``, ``amt_ratio2``, ``count_ratio``,
``max_amt_ratio``), so a negative value is always an upstream bug. ``-0`` is accepted (it is 0).

Size: at most ``max_rows`` rows (413 ``too_many_rows``). The checks that bound the work (line, comma
and bracket counts) run before anything is split or decoded, so a maximal body costs milliseconds,
and a JSON body is decoded one row at a time, so no single step holds the interpreter for long.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import numpy as np
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header, parse_options_header

from fraudstream.serving.limits import ServingLimits

CSV = "text/csv"
JSON = "application/json"
SUPPORTED_TYPES = (CSV, JSON)
DEFAULTS = ServingLimits()
MAX_BODY_BYTES = DEFAULTS.max_body_bytes
"""SageMaker's real-time payload limit; larger bodies get 413."""
MAX_ROWS = DEFAULTS.max_rows
MAX_FIELD_CHARS = DEFAULTS.max_field_chars

NEGATIVE_POLICY = (
    "every model input is an amount, a count or a ratio of them and must be >= 0 (leave it empty for missing)"
)
_CSV_FORBIDDEN = re.compile(r"[^0-9eE+\-., \t]")
"""Anything but digits, signs, point, exponent, comma, space and tab (a valid line never has one)."""
_NON_FINITE_WORDS = {"nan", "inf", "infinity"}
_JSON_WS = re.compile(r"[ \t\n\r]*")


class InputError(Exception):
    """A request the endpoint refuses; ``status`` is a 4xx code, ``reason`` a short metric label."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


# --------------------------------------------------------------------------------------------
# Content negotiation
# --------------------------------------------------------------------------------------------
def media_type(header: str | None) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv``."""
    return parse_options_header(header)[0].lower()


def request_format(content_type: str | None) -> str:
    """The body format from Content-Type, or 415."""
    kind = media_type(content_type)
    if kind in SUPPORTED_TYPES:
        return kind
    shown = f"{content_type[:100]!r}" if content_type else "no Content-Type"
    raise InputError(415, "content_type", f"unsupported media type: {shown}; send text/csv or application/json")


def response_format(accept: str | None, default: str) -> str:
    """The response format from ``Accept`` (RFC 9110 §12.5.1, parsed by werkzeug): media ranges with
    wildcards (``*/*``, ``text/*``, ``application/*``) and q-values, the most specific range deciding each
    type's quality (so ``text/csv;q=0, */*`` refuses CSV); malformed ranges and q-values are skipped and a
    range's other parameters ignored. The highest quality wins; on a tie, the more specific range, then
    the type whose range comes first, then the request's own format. No or an empty header → the
    request's format; 406 only when no supported type is acceptable."""
    if not accept or not accept.replace(",", "").strip():  # absent, or a list of empty elements
        return default
    ranges = MIMEAccept(
        (value.split(";", 1)[0], q) for value, q in parse_accept_header(accept, MIMEAccept) if "/" in value
    )
    offers = sorted(SUPPORTED_TYPES, key=lambda kind: (ranges.find(kind), kind != default))
    best = ranges.best_match(offers)
    if best is None:
        raise InputError(406, "accept", f"cannot answer in {accept[:200]!r}; accept text/csv or application/json")
    return best


# --------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------
def _decode(body: bytes) -> str:
    if not body.strip():
        raise InputError(400, "empty_body", "empty body: send at least one row of model inputs")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, "encoding", f"body is not UTF-8 text (byte {exc.start})") from None


def _too_many_rows(what: str, max_rows: int) -> InputError:
    return InputError(
        413,
        "too_many_rows",
        f"{what}; at most {max_rows:,} rows per request (FRAUDSTREAM_SERVE_MAX_ROWS): split the batch",
    )


def _column_count_error(line_no: int, got: int, names: Sequence[str]) -> InputError:
    return InputError(
        400,
        "column_count",
        f"line {line_no} has {got} column(s), expected {len(names)} ({','.join(names)})",
    )


def _non_finite(where: str, value: str) -> InputError:
    return InputError(
        400,
        "non_finite",
        f"{where}: {value[:40]!r} is not a finite number (NaN/inf not allowed; leave the field empty for missing)",
    )


def _too_long(where: str, length: int, max_chars: int) -> InputError:
    return InputError(400, "too_long", f"{where}: a number of {length:,} characters; at most {max_chars} allowed")


def _check_values(matrix: np.ndarray, where) -> None:
    """Refuse values beyond float32 (inf after the cast) and negative values; NaN (missing) passes."""
    with np.errstate(invalid="ignore"):
        bad = np.isinf(matrix) | (matrix < 0)
    if not bad.any():
        return
    i, j = (int(k[0]) for k in np.nonzero(bad))
    value = float(matrix[i, j])
    if math.isinf(value):
        raise _non_finite(where(i, j), "too large for float32")
    raise InputError(400, "negative", f"{where(i, j)}: {value!r} is negative; {NEGATIVE_POLICY}")


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
def parse_csv(
    body: bytes, names: Sequence[str], max_rows: int = MAX_ROWS, max_field_chars: int = MAX_FIELD_CHARS
) -> np.ndarray:
    """CSV rows → (rows x len(names)) float32, NaN for empty fields."""
    if not body.strip():
        raise InputError(400, "empty_body", "empty body: send at least one row of model inputs")
    newlines = body.count(b"\n")
    lines_upper_bound = newlines + (not body.endswith(b"\n"))
    if lines_upper_bound > max_rows + 1:  # + 1: an optional header line
        raise _too_many_rows(f"body has {lines_upper_bound:,} lines", max_rows)
    text = _decode(body)
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    width = len(names)
    commas = width - 1
    max_line = width * (max_field_chars + 1)
    header_max = 2 * len(",".join(names)) + 64  # room for spaces; a longer first line is no header
    if len(lines[0]) <= header_max and [f.strip() for f in lines[0].split(",")] == list(names):
        lines = lines[1:]  # an optional header with exactly the model's input names
        if not lines:
            raise InputError(400, "empty_body", "body holds only a header line, no rows")
    if len(lines) > max_rows:
        raise _too_many_rows(f"body has {len(lines):,} rows", max_rows)
    out = np.empty((len(lines), width), dtype=np.float32)
    nan = math.nan
    forbidden = _CSV_FORBIDDEN.search
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf and is refused below
        for i, line in enumerate(lines):
            got = line.count(",")
            if got != commas:
                if not line.strip():
                    raise InputError(400, "empty_line", f"line {i + 1} is empty")
                raise _column_count_error(i + 1, got + 1, names)
            fields = line.split(",")
            if len(line) > max_line or forbidden(line):
                raise _bad_line(i + 1, line, fields, names, max_field_chars, max_line)
            if (
                len(line) > max_field_chars
                and max(map(len, fields)) > max_field_chars  # cheap; padding is stripped only if needed
                and any(len(f.strip(" \t")) > max_field_chars for f in fields)
            ):
                raise _bad_line(i + 1, line, fields, names, max_field_chars, max_line)
            try:
                out[i] = [float(f) if f.strip() else nan for f in fields]
            except ValueError:
                raise _bad_line(i + 1, line, fields, names, max_field_chars, max_line) from None
    _check_values(out, lambda i, j: f"line {i + 1}, column {j + 1} ({names[j]})")
    return out


def _bad_line(
    line_no: int, line: str, fields: list[str], names: Sequence[str], max_field_chars: int, max_line: int
) -> InputError:
    """The precise refusal for a line that failed a check (only called on the error path)."""
    for j, field in enumerate(fields):
        value = field.strip(" \t")
        if not value:
            continue
        where = f"line {line_no}, column {j + 1} ({names[j]})"
        if len(value) > max_field_chars:
            return _too_long(where, len(value), max_field_chars)
        if value.lstrip("+-").lower() in _NON_FINITE_WORDS:
            return _non_finite(where, value)
        if _CSV_FORBIDDEN.search(value):
            return InputError(
                400,
                "non_numeric",
                f"{where}: {value[:40]!r} is not a number (ASCII decimal or scientific notation only)",
            )
        try:
            float(value)
        except ValueError:
            return InputError(400, "non_numeric", f"{where}: {value[:40]!r} is not a number")
    # every field is fine on its own: the line is only padded beyond the limit
    return InputError(400, "too_long", f"line {line_no} has {len(line):,} characters; at most {max_line:,} allowed")


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise InputError(400, "non_finite", f"JSON constant {name} is not allowed; use null for a missing value")


class _JsonRows:
    """Decodes ``{"instances": [row, ...]}`` / ``[row, ...]`` one row at a time (each row one short C call).

    Numbers become floats directly (``parse_int=float`` too: a 4,000-digit integer is then just a
    value beyond float32, refused with 400, instead of an ``int`` that overflows or trips Python's
    integer-length limit)."""

    def __init__(self, text: str, max_field_chars: int) -> None:
        self.text = text
        self.max_field_chars = max_field_chars
        self.decoder = json.JSONDecoder(
            parse_float=self._number, parse_int=self._number, parse_constant=_reject_constant
        )

    def _number(self, token: str) -> float:
        if len(token) > self.max_field_chars:
            raise _too_long("JSON number", len(token), self.max_field_chars)
        return float(token)

    def _error(self, message: str, pos: int) -> InputError:
        exc = json.JSONDecodeError(message, self.text, min(pos, len(self.text)))
        return InputError(400, "bad_json", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")

    def ws(self, pos: int) -> int:
        return _JSON_WS.match(self.text, pos).end()  # type: ignore[union-attr]

    def value(self, pos: int) -> tuple[object, int]:
        try:
            return self.decoder.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(
                400, "bad_json", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise InputError(400, "bad_json", "JSON nested too deeply: a row is a flat list of numbers") from None

    def expect(self, pos: int, char: str, what: str) -> int:
        pos = self.ws(pos)
        if not self.text.startswith(char, pos):
            raise self._error(f"Expecting {what}", pos)
        return pos + 1

    def rows_start(self) -> tuple[int, bool]:
        """Position just after the ``[`` that opens the list of rows, and whether it is inside an object."""
        text = self.text
        pos = self.ws(0)
        if text.startswith("[", pos):
            return pos + 1, False
        if not text.startswith("{", pos):
            if pos >= len(text):
                raise self._error("Expecting value", pos)
            raise InputError(400, "bad_json", 'JSON body must be {"instances": [[...], ...]}')
        pos = self.ws(pos + 1)
        if not text.startswith('"', pos):
            if text.startswith("}", pos):
                raise InputError(400, "bad_json", 'JSON body must be {"instances": [[...], ...]}')
            raise self._error("Expecting property name enclosed in double quotes", pos)
        key, pos = self.value(pos)
        if key != "instances":
            raise InputError(
                400,
                "bad_json",
                f'unexpected key {str(key)[:40]!r}: the JSON body must be {{"instances": [[...], ...]}}',
            )
        pos = self.expect(pos, ":", "':' delimiter")
        pos = self.ws(pos)
        if not text.startswith("[", pos):
            if pos >= len(text):
                raise self._error("Expecting value", pos)
            raise InputError(400, "bad_json", '"instances" must be a list of rows')
        return pos + 1, True

    def end(self, pos: int, in_object: bool) -> None:
        if in_object:
            pos = self.ws(pos)
            if self.text.startswith(",", pos):
                raise InputError(
                    400, "bad_json", 'unexpected second key: the JSON body must be {"instances": [[...], ...]}'
                )
            pos = self.expect(pos, "}", "'}'")
        pos = self.ws(pos)
        if pos != len(self.text):
            raise self._error("Extra data", pos)


def parse_json(
    body: bytes, names: Sequence[str], max_rows: int = MAX_ROWS, max_field_chars: int = MAX_FIELD_CHARS
) -> np.ndarray:
    """``{"instances": [[...], ...]}`` → (rows x len(names)) float32, NaN for null."""
    width = len(names)
    # Bound the work before decoding anything: each row is one '[' (or '{' + '['), each value one ','.
    containers = body.count(b"[") + body.count(b"{")
    if containers > 2 * max_rows + 2:
        raise _too_many_rows(f"JSON body holds {containers:,} lists/objects", max_rows)
    if body.count(b",") > max_rows * (width + 1) + 2:
        raise _too_many_rows(f"JSON body holds more values than {max_rows:,} rows of {width}", max_rows)
    text = _decode(body)
    reader = _JsonRows(text, max_field_chars)
    pos, in_object = reader.rows_start()
    pos = reader.ws(pos)
    # First the syntax of the whole body (one row per step), as json.loads would: an unfinished body
    # is "invalid JSON" even when its first row also has the wrong width.
    raw_rows: list[object] = []
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            if len(raw_rows) >= max_rows:
                raise _too_many_rows(f"more than {max_rows:,} instances", max_rows)
            row, pos = reader.value(pos)
            raw_rows.append(row)
            pos = reader.ws(pos)
            if text.startswith(",", pos):
                pos = reader.ws(pos + 1)
                continue
            pos = reader.expect(pos, "]", "',' delimiter")
            break
    reader.end(pos, in_object)
    if not raw_rows:
        raise InputError(400, "empty_body", '"instances" is empty: send at least one row')
    out = np.empty((len(raw_rows), width), dtype=np.float32)
    nan = math.nan
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf and is refused below
        for i, row in enumerate(raw_rows):
            if isinstance(row, dict) and "features" in row:
                row = row["features"]
            if not isinstance(row, list):
                raise InputError(400, "bad_json", f"instance {i} must be a list of {width} numbers or nulls")
            if len(row) != width:
                raise InputError(
                    400,
                    "column_count",
                    f"instance {i} has {len(row)} value(s), expected {width} ({','.join(names)})",
                )
            values = []
            for j, v in enumerate(row):
                if v is None:
                    values.append(nan)
                elif type(v) is float:  # every JSON number (ints too) arrives as float; bools stay bool
                    values.append(v)
                else:
                    raise InputError(
                        400,
                        "non_numeric",
                        f"instance {i}, value {j} ({names[j]}): {str(v)[:40]!r} is not a number",
                    )
            out[i] = values  # row by row: no single long step that holds the interpreter
    _check_values(out, lambda i, j: f"instance {i}, value {j} ({names[j]})")
    return out


def parse_body(body: bytes, kind: str, names: Sequence[str], limits: ServingLimits = DEFAULTS) -> np.ndarray:
    parse = parse_csv if kind == CSV else parse_json
    return parse(body, names, limits.max_rows, limits.max_field_chars)


FORMAT_CHUNK = 1024
"""Values formatted per step: ``str.join(map(repr, ...))`` runs in C without letting other threads in,
so 10,000 values at once would hold the event loop off for ~10 ms."""


def _joined(values: Sequence[float], separator: str) -> str:
    return separator.join(
        separator.join(map(repr, values[i : i + FORMAT_CHUNK])) for i in range(0, len(values), FORMAT_CHUNK)
    )


def format_csv(probabilities: Sequence[float]) -> str:
    """One probability per line; ``repr`` of the float64 value of each float32 is exact."""
    return _joined(probabilities, "\n") + "\n"


def format_json(probabilities: Sequence[float], **fields: object) -> str:
    """``json.dumps({"predictions": probabilities, **fields})``, byte for byte (floats are written with
    ``repr`` by both), formatted in chunks like ``format_csv``."""
    rest = json.dumps(fields)
    return '{"predictions": [' + _joined(probabilities, ", ") + "]" + (", " + rest[1:] if fields else "}")
