"""TCP port helpers: is something listening, pick a free port, wait for a port to close."""

from __future__ import annotations

import contextlib
import socket

from fraudstream.waiting import wait_until


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (all sockets held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_closed(host: str, ports: list[int], timeout: float = 15.0) -> list[int]:
    """Wait until nothing listens on ``ports``; returns the ports still open at the deadline."""

    def still_open() -> list[int]:
        return [p for p in ports if is_listening(host, p, timeout=0.2)]

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not still_open(), timeout, f"ports {ports} to close")
    return still_open()


def metrics_env(variable: str, port: int) -> dict[str, str]:
    """The variable a service reads its /metrics port from; empty (not served) when ``port`` is 0.

    Empty rather than absent: the child's environment starts from ours, where the variable may be set.
    """
    return {variable: str(port) if port else ""}


def metrics_address(host: str, port: int) -> str:
    """How ``stack status`` shows a service's /metrics."""
    return f"metrics http://{host}:{port}/metrics" if port else "metrics off"
