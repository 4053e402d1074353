"""TrimSchedule trims at most once per interval."""

import time

from fraudstream import memory


def test_trims_only_after_its_interval(monkeypatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(memory, "release_freed_memory", lambda: calls.append(time.monotonic()))
    schedule = memory.TrimSchedule(every_s=0.2)
    assert schedule.maybe_release() is False  # the interval counts from creation
    time.sleep(0.25)
    assert schedule.maybe_release() is True
    assert schedule.maybe_release() is False
    assert len(calls) == 1
