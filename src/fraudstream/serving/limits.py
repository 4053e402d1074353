"""Every limit of the endpoint, in one place: request size, rows, header size, timeouts, concurrency.

Defaults suit the SageMaker contract and the local scorer; each one can be changed with a
``FRAUDSTREAM_SERVE_*`` environment variable (read by ``fraudstream serve``, which also takes the
same values as options, and by the container entry point ``python -m fraudstream.serving serve``).

Each limit, its default, and what exceeding it gives:

- ``max_rows`` = 10,000 rows per request (the largest ``handlers run --batch-size``): 413 ``too_many_rows``.
- ``max_body_bytes`` = 6 MiB (SageMaker's real-time payload limit): 413 ``too_large``.
- ``max_field_chars`` = 64 characters per number (a float64 needs at most 24): 400 ``too_long``.
- ``max_header_bytes`` = 16 KiB of request line + headers (h11's default): 431, connection closed.
- ``header_timeout_s`` = 10 s from the connection (or from the first byte of the next request on a
  keep-alive connection) to the end of the headers; also closes a socket that sends nothing: 408 if
  any byte came, then the connection is closed.
- ``body_timeout_s`` = 30 s from the end of the headers to the end of the body (Content-Length or
  chunked): 408, connection closed.
- ``keep_alive_s`` = 75 s idle between requests on a keep-alive connection (the earlier value): closed.
- ``limit_concurrency`` = 128 open connections + running requests (uvicorn): 503.
- ``max_inflight`` = 4 requests parsed and scored at once in worker threads (the event loop only does
  I/O): the next ones wait.
- ``inline_max_bytes`` = 1 KiB: a body this small (one row is about 40 bytes) is parsed and scored on
  the event loop, skipping the thread hop; its worst case (~170 empty rows) costs about 1 ms.
  0 sends every body to a worker thread.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

ENV_PREFIX = "FRAUDSTREAM_SERVE_"


@dataclass(frozen=True)
class ServingLimits:
    """The endpoint's limits; see the module docstring for what each one does when exceeded."""

    max_rows: int = 10_000
    max_body_bytes: int = 6 * 1024 * 1024
    max_field_chars: int = 64
    max_header_bytes: int = 16 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: int = 75
    limit_concurrency: int = 128
    max_inflight: int = 4
    inline_max_bytes: int = 1024

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (value >= 0 if field.name == "inline_max_bytes" else value > 0):
                raise ValueError(f"serving limit {field.name} must be > 0, got {value!r}")

    @staticmethod
    def env_name(field: str) -> str:
        """``max_rows`` → ``FRAUDSTREAM_SERVE_MAX_ROWS``."""
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServingLimits:
        """Defaults, then ``FRAUDSTREAM_SERVE_*`` variables, then explicit ``overrides`` (``None`` = not given)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            kind = int if field.type in (int, "int") else float
            raw = environ.get(cls.env_name(field.name))
            if raw is not None and raw.strip():
                try:
                    values[field.name] = kind(raw)
                except ValueError:
                    raise ValueError(f"{cls.env_name(field.name)}={raw!r} is not a valid {kind.__name__}") from None
            if overrides.get(field.name) is not None:
                values[field.name] = kind(overrides[field.name])  # type: ignore[arg-type]
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown serving limit(s): {sorted(unknown)}")
        return cls(**values)  # type: ignore[arg-type]
