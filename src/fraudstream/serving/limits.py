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
from dataclasses import dataclass

from pydantic import ValidationError, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    def from_env(cls, **overrides: object) -> ServingLimits:
        """Defaults, then ``FRAUDSTREAM_SERVE_*`` variables (read by pydantic-settings; an empty one is
        unset), then explicit ``overrides`` (``None`` = not given)."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown serving limit(s): {sorted(unknown)}")
        try:
            read = _LimitsFromEnv()
        except ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0])
            raise ValueError(f"{cls.env_name(name)}={error['input']!r} is not a valid {_kind(name).__name__}") from None
        values = {name: value for name, value in read.model_dump().items() if value is not None}
        values |= {name: _kind(name)(value) for name, value in overrides.items() if value is not None}  # type: ignore[operator]
        return cls(**values)  # type: ignore[arg-type]


def _kind(name: str) -> type:
    """``int`` or ``float``: the type of a limit."""
    field = next(f for f in dataclasses.fields(ServingLimits) if f.name == name)
    return int if field.type in (int, "int") else float


class _FromEnv(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")


_LimitsFromEnv = create_model(
    "ServingLimitsFromEnv",
    __base__=_FromEnv,
    **{f.name: (_kind(f.name) | None, None) for f in dataclasses.fields(ServingLimits)},  # type: ignore[call-overload]
)
