"""wait_until: returns the first truthy value, names what it waited for on timeout."""

from __future__ import annotations

import time

import pytest

from fraudstream.waiting import wait_until


def test_returns_the_first_truthy_value() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_until(lambda: next(calls), 5, "a value", interval=0.001) == "ready"


def test_timeout_names_what_was_awaited_and_checks_at_least_once() -> None:
    seen = []
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="waiting for the moon"):
        wait_until(lambda: seen.append(1), 0.05, "the moon", interval=0.01)
    assert seen and time.monotonic() - started < 2


def test_an_error_in_the_predicate_stops_the_wait() -> None:
    def broken() -> bool:
        raise RuntimeError("gone")

    with pytest.raises(RuntimeError, match="gone"):
        wait_until(broken, 5, "anything")
