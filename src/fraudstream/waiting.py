"""Waiting for a condition until a deadline: the one poll loop that engines, stacks and tests share.

Why one helper: a poll-until-deadline loop written inline (deadline arithmetic, sleep, the error
at the end) was repeated in a dozen places with small differences; here it is once, with the
timeout error naming what was awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    It is called at least once, even with ``timeout`` 0. Raises ``TimeoutError`` ("timed out after
    Ns waiting for <what>") when ``timeout`` seconds pass first; an exception from ``predicate``
    propagates at once (raise one to stop waiting for a condition that can no longer come true).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
