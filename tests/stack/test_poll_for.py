"""poll_for: a paced sender waits without spinning (librdkafka's poll timeout is whole milliseconds)."""

from __future__ import annotations

import time

from fraudstream.kafka_clients import poll_for


class CountingClient:
    """Stands in for a confluent-kafka client: only records what poll was asked to wait."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def poll(self, timeout: float) -> int:
        self.timeouts.append(timeout)
        time.sleep(timeout)
        return 0


def test_sub_millisecond_waits_sleep_instead_of_a_zero_timeout_poll() -> None:
    client = CountingClient()
    started = time.perf_counter()
    for _ in range(20):
        poll_for(client, 0.0008)
    elapsed = time.perf_counter() - started
    assert client.timeouts == []  # a poll(0.0008) would be poll(0 ms): it returns at once, and the caller spins
    assert elapsed >= 20 * 0.0008


def test_waits_of_a_millisecond_or_more_serve_callbacks() -> None:
    client = CountingClient()
    poll_for(client, 0.003)
    poll_for(client, 0.0)
    poll_for(client, -1.0)
    assert client.timeouts == [0.003]
