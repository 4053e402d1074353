"""Request bodies → float32 input matrices, with a 4xx ``InputError`` naming each problem.

CSV: one transaction per line, the model's inputs in order, an empty field is a missing value.
JSON: ``{"instances": [[...], ...]}`` (``null`` = missing; ``{"features": [...]}`` rows and a bare
list of rows are accepted too). Literal NaN/inf are refused: a missing value is written as empty/null,
so a NaN that reaches the model always means "unknown", never a bug upstream passed through.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

CSV = "text/csv"
JSON = "application/json"
SUPPORTED_TYPES = (CSV, JSON)
MAX_BODY_BYTES = 6 * 1024 * 1024
"""SageMaker's real-time payload limit; larger bodies get 413."""


class InputError(Exception):
    """A request the endpoint refuses; ``status`` is a 4xx code, ``reason`` a short metric label."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def media_type(header: str | None) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv``."""
    return (header or "").split(";", 1)[0].strip().lower()


def request_format(content_type: str | None) -> str:
    """The body format from Content-Type, or 415."""
    kind = media_type(content_type)
    if kind in SUPPORTED_TYPES:
        return kind
    shown = f"{content_type!r}" if content_type else "no Content-Type"
    raise InputError(415, "content_type", f"unsupported media type: {shown}; send text/csv or application/json")


def response_format(accept: str | None, default: str) -> str:
    """The response format from Accept (first supported type in order), else the request's format; 406 if none."""
    if not accept or not accept.strip():
        return default
    kinds = [media_type(part) for part in accept.split(",")]
    for kind in kinds:
        if kind in SUPPORTED_TYPES:
            return kind
        if kind in ("*/*", "text/*" if default == CSV else "application/*"):
            return default
    raise InputError(406, "accept", f"cannot answer in {accept!r}; accept text/csv or application/json")


def _decode(body: bytes) -> str:
    if not body.strip():
        raise InputError(400, "empty_body", "empty body: send at least one row of model inputs")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, "encoding", f"body is not UTF-8 text (byte {exc.start})") from None


def _column_count_error(line_no: int, got: int, names: Sequence[str]) -> InputError:
    return InputError(
        400,
        "column_count",
        f"line {line_no} has {got} column(s), expected {len(names)} ({','.join(names)})",
    )


def parse_csv(body: bytes, names: Sequence[str]) -> np.ndarray:
    """CSV rows → (rows x len(names)) float32, NaN for empty fields."""
    text = _decode(body)
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    if lines and [f.strip() for f in lines[0].split(",")] == list(names):
        lines = lines[1:]  # an optional header with exactly the model's input names
        if not lines:
            raise InputError(400, "empty_body", "body holds only a header line, no rows")
    width = len(names)
    out = np.empty((len(lines), width), dtype=np.float32)
    nan = math.nan
    for i, line in enumerate(lines):
        fields = line.split(",")
        if len(fields) != width:
            if not line.strip():
                raise InputError(400, "empty_line", f"line {i + 1} is empty")
            raise _column_count_error(i + 1, len(fields), names)
        try:
            row = [float(f) if f.strip() else nan for f in fields]
        except ValueError:
            raise _bad_field(i + 1, fields, names) from None
        with np.errstate(over="ignore"):
            out[i] = row  # a value beyond float32 becomes inf and is refused below
    _check_finite_csv(out, lines, names)
    return out


def _bad_field(line_no: int, fields: list[str], names: Sequence[str]) -> InputError:
    for j, field in enumerate(fields):
        value = field.strip()
        if not value:
            continue
        try:
            float(value)
        except ValueError:
            return InputError(
                400,
                "non_numeric",
                f"line {line_no}, column {j + 1} ({names[j]}): {value[:40]!r} is not a number",
            )
    return InputError(400, "non_numeric", f"line {line_no}: unreadable row")


def _check_finite_csv(matrix: np.ndarray, lines: list[str], names: Sequence[str]) -> None:
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return
    for i, j in zip(*np.nonzero(bad), strict=True):
        field = lines[i].split(",")[j].strip()
        if field:  # an empty field is a legitimate missing value
            raise _non_finite(f"line {i + 1}, column {j + 1} ({names[j]})", field)


def _non_finite(where: str, value: str) -> InputError:
    return InputError(
        400,
        "non_finite",
        f"{where}: {value[:40]!r} is not a finite number (NaN/inf not allowed; leave the field empty for missing)",
    )


def _reject_constant(name: str) -> float:
    raise InputError(400, "non_finite", f"JSON constant {name} is not allowed; use null for a missing value")


def parse_json(body: bytes, names: Sequence[str]) -> np.ndarray:
    """``{"instances": [[...], ...]}`` → (rows x len(names)) float32, NaN for null."""
    text = _decode(body)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(400, "bad_json", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(doc, dict):
        if "instances" not in doc:
            raise InputError(400, "bad_json", 'JSON body must be {"instances": [[...], ...]}')
        rows = doc["instances"]
    else:
        rows = doc
    if not isinstance(rows, list):
        raise InputError(400, "bad_json", '"instances" must be a list of rows')
    if not rows:
        raise InputError(400, "empty_body", '"instances" is empty: send at least one row')
    width = len(names)
    out = np.empty((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        if isinstance(row, dict) and "features" in row:
            row = row["features"]
        if not isinstance(row, list):
            raise InputError(400, "bad_json", f"instance {i} must be a list of {width} numbers or nulls")
        if len(row) != width:
            raise InputError(
                400, "column_count", f"instance {i} has {len(row)} value(s), expected {width} ({','.join(names)})"
            )
        values = []
        for j, v in enumerate(row):
            if v is None:
                values.append(math.nan)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                if not math.isfinite(v):  # pragma: no cover - json.loads cannot produce these without constants
                    raise _non_finite(f"instance {i}, value {j} ({names[j]})", repr(v))
                values.append(v)
            else:
                raise InputError(
                    400, "non_numeric", f"instance {i}, value {j} ({names[j]}): {str(v)[:40]!r} is not a number"
                )
        with np.errstate(over="ignore"):
            out[i] = values
    if np.isinf(out).any():
        i, j = (int(k[0]) for k in np.nonzero(np.isinf(out)))
        raise _non_finite(f"instance {i}, value {j} ({names[j]})", "too large for float32")
    return out


def parse_body(body: bytes, kind: str, names: Sequence[str]) -> np.ndarray:
    return parse_csv(body, names) if kind == CSV else parse_json(body, names)


def format_csv(probabilities: Sequence[float]) -> str:
    """One probability per line; ``repr`` of the float64 value of each float32 is exact."""
    return "\n".join(map(repr, probabilities)) + "\n"
