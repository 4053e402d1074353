"""The endpoint can't be knocked over: raw sockets against a real uvicorn process (``start_endpoint``).

The process runs with short limits (1 s header and body timeouts, 2 s keep-alive, 24 connections) set
through the ``FRAUDSTREAM_SERVE_*`` variables ``fraudstream serve`` reads, so every slowloris variant
must be closed within a couple of seconds; ``/ping`` must answer in under 50 ms while a maximal
request is parsed and scored.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.testing.models import start_endpoint, stop_endpoint

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 2
LIMIT_CONCURRENCY = 24
MAX_HEADER_BYTES = 16 * 1024
CLOSE_SLACK_S = 2.0  # scheduling slack on a loaded 2-core machine
PING_BUDGET_S = 0.050
ENV = {
    "FRAUDSTREAM_SERVE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
    "FRAUDSTREAM_SERVE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    "FRAUDSTREAM_SERVE_KEEP_ALIVE_S": str(KEEP_ALIVE_S),
    "FRAUDSTREAM_SERVE_LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
    "FRAUDSTREAM_SERVE_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
}
ROW = b"123.45,1.08,0.95,0.31,2,1.6\n"


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    log = tmp_path_factory.mktemp("guarded-endpoint") / "serve.log"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in ENV.items():
            mp.setenv(name, value)
        process, url = start_endpoint(tiny_model_dir, log)
    try:
        yield int(url.rsplit(":", 1)[1]), log
    finally:
        stop_endpoint(process)


@pytest.fixture
def port(server: tuple[int, Path]) -> int:
    return server[0]


# --------------------------------------------------------------------------------------------
# raw HTTP/1.1 helpers
# --------------------------------------------------------------------------------------------
def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float, bool]:
    """Read until the server closes (or ``limit_s``); returns (bytes, seconds, closed)."""
    started = time.monotonic()
    data = b""
    sock.settimeout(0.2)
    while time.monotonic() - started < limit_s:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return data, time.monotonic() - started, True
        if not chunk:
            return data, time.monotonic() - started, True
        data += chunk
    return data, time.monotonic() - started, False


_PENDING: weakref.WeakKeyDictionary[socket.socket, bytes] = weakref.WeakKeyDictionary()
"""Bytes read past the end of a response (pipelined answers can arrive in one read)."""


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length framed) from a keep-alive connection."""
    data = _PENDING.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data[:200]!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed in the body after {body[:200]!r}")
        body += chunk
    _PENDING[sock] = body[length:]
    return int(lines[0].split()[1]), headers, body[:length]


def _post(body: bytes, content_type: str = "text/csv", extra: str = "") -> bytes:
    return (
        f"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


PING = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"


def _assert_closed_in_time(sock: socket.socket, deadline_s: float, expect_status: int | None) -> bytes:
    data, elapsed, closed = _until_closed(sock, deadline_s + CLOSE_SLACK_S + 3)
    assert closed, f"connection still open after {elapsed:.1f} s"
    assert elapsed <= deadline_s + CLOSE_SLACK_S, f"closed only after {elapsed:.2f} s"
    if expect_status is not None:
        assert data.startswith(f"HTTP/1.1 {expect_status} ".encode()), data[:200]
    return data


def _ping_ok(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(PING)
        assert _response(sock)[0] == 200


# --------------------------------------------------------------------------------------------
# slowloris: every variant is closed within a bounded time
# --------------------------------------------------------------------------------------------
def test_a_silent_socket_is_closed(port: int) -> None:
    with _connect(port) as sock:
        data = _assert_closed_in_time(sock, HEADER_TIMEOUT_S, None)
        assert data == b""  # nothing was asked, nothing is answered


@pytest.mark.parametrize(
    "partial",
    [b"POST /invocations HT", b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"],
    ids=["partial-request-line", "partial-headers"],
)
def test_partial_headers_get_408_and_are_closed(port: int, partial: bytes) -> None:
    with _connect(port) as sock:
        sock.sendall(partial)
        data = _assert_closed_in_time(sock, HEADER_TIMEOUT_S, 408)
        assert b"connection: close" in data.lower()


def test_headers_trickled_byte_by_byte_are_closed_at_the_total_deadline(port: int) -> None:
    """The header timeout is a deadline for the whole head, not an idle timer reset by every byte."""
    request = _post(ROW)
    started = time.monotonic()
    with _connect(port) as sock:
        try:
            for byte in request[:60]:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - started > HEADER_TIMEOUT_S + CLOSE_SLACK_S:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, _, closed = _until_closed(sock, HEADER_TIMEOUT_S + CLOSE_SLACK_S)
    assert closed and time.monotonic() - started <= HEADER_TIMEOUT_S + CLOSE_SLACK_S + 0.5
    assert data.startswith(b"HTTP/1.1 408 ")


def test_a_partial_body_gets_408_and_is_closed(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(_post(ROW * 10)[:-100])
        data = _assert_closed_in_time(sock, BODY_TIMEOUT_S, 408)
        assert b'"body_timeout"' in data


def test_an_unfinished_chunked_body_gets_408_and_is_closed(port: int) -> None:
    with _connect(port) as sock:
        head = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + b"%x\r\n" % len(ROW) + ROW + b"\r\n")  # one chunk, never the last one
        _assert_closed_in_time(sock, BODY_TIMEOUT_S, 408)


def test_a_body_trickled_to_a_route_that_never_reads_it_is_closed(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
        data = _assert_closed_in_time(sock, BODY_TIMEOUT_S, 200)  # answered, then closed: the body never ends
        assert b'"status":"ok"' in data


def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(PING)
        assert _response(sock)[0] == 200
        _assert_closed_in_time(sock, KEEP_ALIVE_S, None)


def test_keep_alive_and_pipelining_still_work(port: int) -> None:
    with _connect(port) as sock:
        for _ in range(3):
            sock.sendall(_post(ROW))
            assert _response(sock)[0] == 200
            time.sleep(HEADER_TIMEOUT_S / 2)  # idle between requests is the keep-alive's business
        sock.sendall(_post(ROW) + PING + _post(ROW * 2))
        statuses = [_response(sock)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_a_slow_but_steady_body_within_the_deadline_is_scored(port: int) -> None:
    body = ROW * 200
    request = _post(body)
    with _connect(port) as sock:
        for i in range(0, len(request), len(request) // 4 + 1):
            sock.sendall(request[i : i + len(request) // 4 + 1])
            time.sleep(BODY_TIMEOUT_S / 8)
        status, _, answer = _response(sock)
    assert status == 200 and len(answer.splitlines()) == 200


# --------------------------------------------------------------------------------------------
# header size
# --------------------------------------------------------------------------------------------
def test_an_8_mb_header_gets_431_or_is_closed(port: int) -> None:
    started = time.monotonic()
    with _connect(port) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed while we send: also a refusal
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (8 * 1024 * 1024) + b"\r\n\r\n")
        data, _, closed = _until_closed(sock, 10)
    assert closed and time.monotonic() - started < 10
    assert data == b"" or data.startswith(b"HTTP/1.1 431 "), data[:200]
    _ping_ok(port)


def test_many_headers_beyond_the_limit_get_431(port: int) -> None:
    headers = "".join(f"X-H{i}: {'v' * 90}\r\n" for i in range(MAX_HEADER_BYTES // 90 + 10))
    with _connect(port) as sock:
        sock.sendall(f"GET /ping HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        data = _assert_closed_in_time(sock, 1.0, 431)
        assert b"header_too_large" in data


def test_headers_below_the_limit_are_fine(port: int) -> None:
    headers = "".join(f"X-H{i}: {'v' * 90}\r\n" for i in range(MAX_HEADER_BYTES // 200))
    with _connect(port) as sock:
        sock.sendall(f"GET /ping HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        assert _response(sock)[0] == 200


# --------------------------------------------------------------------------------------------
# connection limit
# --------------------------------------------------------------------------------------------
def test_connections_beyond_the_limit_get_503_until_the_idle_ones_are_closed(port: int) -> None:
    idle = [_connect(port) for _ in range(LIMIT_CONCURRENCY)]
    try:
        time.sleep(0.2)
        with _connect(port) as sock:
            sock.sendall(PING)
            status, _, _ = _response(sock)
        assert status == 503
        for s in idle:  # the header timeout frees the slots the silent sockets hold
            _, _, closed = _until_closed(s, HEADER_TIMEOUT_S + CLOSE_SLACK_S + 2)
            assert closed
    finally:
        for s in idle:
            s.close()
    _ping_ok(port)


# --------------------------------------------------------------------------------------------
# /ping stays fast during a maximal request
# --------------------------------------------------------------------------------------------
def _maximal_bodies(rows: int = 10_000, width: int = 6, chars: int = 64) -> dict[str, tuple[bytes, str]]:
    rng = random.Random(3)
    matrix = [[f"{rng.uniform(0, 5):.60f}"[:chars] for _ in range(width)] for _ in range(rows)]
    csv = ("\n".join(",".join(r) for r in matrix) + "\n").encode()
    js = ('{"instances": [' + ",".join("[" + ",".join(r) + "]" for r in matrix) + "]}").encode()
    return {
        "csv-10k-rows": (csv, "text/csv"),
        "json-10k-rows": (js, "application/json"),
        "csv-6MiB-empty-rows": (b",,,,,\n" * (6 * 1024 * 1024 // 6 - 1), "text/csv"),
        "json-6MiB-nesting": (b"[" * (6 * 1024 * 1024 - 1), "application/json"),
    }


MAXIMAL = _maximal_bodies()


def _pings_during(port: int, body: bytes, content_type: str) -> tuple[int, list[float]]:
    latencies: list[float] = []
    busy = threading.Event()
    done = threading.Event()
    result: dict[str, int] = {}

    def big_request() -> None:
        with _connect(port) as sock:
            busy.set()
            sock.sendall(_post(body, content_type))
            result["status"] = _response(sock)[0]
        done.set()

    with _connect(port) as ping:
        ping.sendall(PING)
        _response(ping)  # connection warmed up
        worker = threading.Thread(target=big_request)
        worker.start()
        busy.wait()
        while not done.is_set():
            started = time.perf_counter()
            ping.sendall(PING)
            status, _, _ = _response(ping)
            if not done.is_set():
                latencies.append(time.perf_counter() - started)
            assert status == 200
            time.sleep(0.003)
        worker.join()
    return result["status"], latencies


@pytest.mark.parametrize("name", list(MAXIMAL))
def test_ping_answers_in_under_50_ms_during_a_maximal_request(port: int, name: str) -> None:
    body, content_type = MAXIMAL[name]
    expected = 200 if "10k" in name else 413
    attempts = []
    for _ in range(3):  # the machine is shared: one clean attempt out of three
        status, latencies = _pings_during(port, body, content_type)
        assert status == expected
        attempts.append(latencies)
        if latencies and max(latencies) < PING_BUDGET_S:
            break
    best = min(attempts, key=lambda lat: max(lat, default=0))
    assert len(best) >= 2, f"the request took too little time to measure ({len(best)} pings)"
    assert max(best) < PING_BUDGET_S, f"slowest /ping {max(best) * 1000:.1f} ms during {name}"


def test_limits_show_in_metrics_and_the_log(server: tuple[int, Path]) -> None:
    port, log = server
    with _connect(port) as sock:
        sock.sendall(b"POST /invocations HT")
        _until_closed(sock, HEADER_TIMEOUT_S + CLOSE_SLACK_S)
    with _connect(port) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        _, _, text = _response(sock)
    assert b'fraudstream_endpoint_connections_closed_total{reason="header_timeout"}' in text
    assert "closing connection from 127.0.0.1" in log.read_text()
