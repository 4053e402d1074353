"""uvicorn's httptools protocol plus the connection limits uvicorn lacks (slowloris protection).

uvicorn bounds idle time only between requests (``timeout_keep_alive``) and, with httptools, not the
header size at all. This subclass adds, per connection:

- a **header timeout**: from the connection (or from the first byte of the next request on a
  keep-alive connection) to the end of the headers. A socket that never sends a byte, or sends a
  partial request line or partial headers, is closed after ``header_timeout_s`` (with a 408 when it
  sent something and no response is in flight);
- a **body timeout**: from the end of the headers to the end of the body (Content-Length or chunked).
  A partial or unfinished chunked body is answered 408 (when no response was started) and the
  connection closed after ``body_timeout_s``, whatever the route, and whether or not the app reads it;
- a **header size limit**: more than ``max_header_bytes`` of request line + headers gets 431 and the
  connection is closed. Counted exactly on each complete header, and on the raw bytes while the head
  is unfinished, because httptools buffers a header value internally until it is complete, so an
  endless header would otherwise grow without bound.

Each closure is counted in ``fraudstream_endpoint_connections_closed_total{reason}`` and logged.
The hooks used (``connection_made``, ``data_received``, ``connection_lost`` and the parser callbacks
``on_message_begin``, ``on_url``, ``on_header``, ``on_headers_complete``, ``on_body``,
``on_message_complete``) are the protocol's public surface, stable across uvicorn releases;
``tests/serving/test_robustness.py`` checks every behaviour against a real uvicorn process.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fraudstream.serving.limits import ServingLimits
from fraudstream.serving.metrics import EndpointMetrics

log = logging.getLogger(__name__)

CLOSED_SCOPE_KEY = "fraudstream.closed"
"""ASGI scope key set when the protocol closed the request's connection on a limit (its reason)."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with header/body timeouts and a header size limit (see module docstring)."""

    limits: ServingLimits = ServingLimits()
    metrics: EndpointMetrics | None = None

    # -- connection ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_closed = False
        self._refusal: tuple[int, str, str] | None = None  # decided inside a parser callback, sent after it
        self._in_head = True  # waiting for the request line + headers of the next request
        self._head_size = 0  # exact size of the request line + complete headers of the current request
        self._head_bytes = 0  # raw bytes received for the pending head (a lower bound, see data_received)
        self._head_seen = False  # at least one byte of the pending head arrived
        self._head_started_in_chunk = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()  # also closes a socket that never sends anything

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._stopped():
            return
        started_in_head = self._in_head
        if started_in_head:
            self._head_seen = True
            if self._head_timer is None:  # the first bytes of a request on a keep-alive connection
                self._arm_head_timer()
        super().data_received(data)
        if self._refusal is not None:
            self._refuse(*self._refusal)
            return
        if self._guard_closed or self.transport.is_closing() or not self._in_head:
            self._head_started_in_chunk = False
            return
        # Still waiting for headers; httptools holds an unfinished header value in its own buffer, so
        # count raw bytes too. When this chunk also finished an earlier message, the new head is only
        # part of it: count it from the next chunk on (an undercount of at most one read).
        if started_in_head and not self._head_started_in_chunk:
            self._head_bytes += len(data)
        self._head_started_in_chunk = False
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(*self._too_large())

    def _stopped(self) -> bool:
        return self._guard_closed or self._refusal is not None

    def _too_large(self) -> tuple[int, str, str]:
        return 431, "header_too_large", f"request line and headers exceed {self.limits.max_header_bytes:,} bytes"

    # -- parser callbacks ---------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if not self._stopped():
            super().on_message_begin()
            self._head_size = 0

    def on_url(self, url: bytes) -> None:
        if self._stopped():
            return
        self._head_size += len(url)
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            return
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._stopped():
            return
        self._head_size += len(name) + len(value) + 4  # "name: value\r\n"
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._stopped():
            return
        self._in_head = False
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._on_body_timeout)

    def on_body(self, body: bytes) -> None:
        if not self._stopped():
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._stopped():
            return
        self._cancel(self._body_timer)
        self._body_timer = None
        super().on_message_complete()
        self._in_head, self._head_bytes, self._head_seen = True, 0, False
        self._head_started_in_chunk = True

    # -- timers -------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._on_head_timeout)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _cancel_timers(self) -> None:
        self._cancel(getattr(self, "_head_timer", None))
        self._cancel(getattr(self, "_body_timer", None))
        self._head_timer = self._body_timer = None

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self._guard_closed or self.transport.is_closing():
            return
        idle = self.cycle is None or self.cycle.response_complete
        if self._head_seen and idle:
            self._refuse(
                408, "header_timeout", f"request headers not received within {self.limits.header_timeout_s:g} s"
            )
        else:  # a silent socket (info: idle pre-opened connections are routine), or a pipelined partial head
            self._close("header_timeout", logging.WARNING if self._head_seen else logging.INFO)

    def _on_body_timeout(self) -> None:
        self._body_timer = None
        if self._guard_closed or self.transport.is_closing():
            return
        cycle = self.cycle
        message = f"request body not received within {self.limits.body_timeout_s:g} s"
        if cycle is not None and not cycle.response_started:
            self._refuse(408, "body_timeout", message)
            cycle.scope[CLOSED_SCOPE_KEY] = "body_timeout"  # type: ignore[literal-required]  # labels the app's metrics
            cycle.disconnected = True  # the app's receive() now returns http.disconnect; its send() is a no-op
            cycle.message_event.set()
        else:  # already answered (e.g. 413 before reading), the client is still trickling the body
            self._close("body_timeout")

    # -- closing ------------------------------------------------------------------------------
    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer ``status`` with a JSON error body, then close the connection."""
        body = json.dumps({"error": reason, "message": message}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self._close(reason)

    def _close(self, reason: str, level: int = logging.WARNING) -> None:
        self._guard_closed = True
        self._cancel_timers()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.log(level, "closing connection from %s: %s", client, reason)
        if self.metrics is not None:
            self.metrics.connections_closed.labels(reason).inc()
        self.transport.close()


def guarded_protocol(limits: ServingLimits, metrics: EndpointMetrics | None = None) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for ``uvicorn.run(http=...)`` bound to these limits and metrics."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits, "metrics": metrics})
