"""How the local runner batches records for a handler: a named profile per use.

- ``low-latency`` (the default): the runner hands the handler whatever has arrived the moment the
  first record is there (no batching window), up to ``batch_size`` records. Under load batches grow
  by themselves (records arrive while the previous batch is scored), so throughput does not suffer;
  on quiet traffic a record waits for nothing. The agg-writer keeps a 200 ms window: its output is
  not on the verdict's path (the scorer takes the 10-minute features from the ``cc-agg`` record
  itself), and a bigger batch means fewer DynamoDB writes (only each card's newest aggregate of a
  batch is written) and fewer transactions — CPU left to the verdict path on a small machine. The
  online 10-minute group is then at most ~0.4 s behind ``cc-agg``: it also lets the broker hold its
  fetches for 200 ms (one fetch request per 200 ms instead of one per record: broker CPU). Its batch
  may hold up to 10,000 records (the largest batch an MSK event source mapping delivers): when it
  falls behind, its batches grow, each card's many aggregates collapse to one write, and it catches
  up faster (measured at 3,000 tx/s on the busy 2-core box: back in step 6 s after the traffic
  stopped with batches of up to 10,000, 35 s with 2,000).
- ``lambda``: what an AWS Lambda MSK event source mapping does by default — batches of up to 100
  records, a 500 ms batching window. Send → prediction then costs about half a window more on
  average (≈ 250 ms) and up to a whole window (500 ms) at low rates; use it to see how the deployed
  system behaves, or set the ESM's ``MaximumBatchingWindowInSeconds`` lower on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchingProfile:
    """Batch size and batching window of one handler under one profile."""

    batch_size: int
    max_wait_ms: int
    fetch_wait_ms: int = 0
    """How long the broker may hold the handler's fetches (``kafka_clients.bulk_fetch``); 0 = answer at
    once. Only for a handler off the verdict path: it saves the broker a request per record."""


PROFILES: dict[str, dict[str, BatchingProfile]] = {
    "low-latency": {
        "fraud-scorer": BatchingProfile(batch_size=500, max_wait_ms=0),
        "agg-writer": BatchingProfile(batch_size=10_000, max_wait_ms=200, fetch_wait_ms=200),
    },
    "lambda": {
        "fraud-scorer": BatchingProfile(batch_size=100, max_wait_ms=500),
        "agg-writer": BatchingProfile(batch_size=100, max_wait_ms=500),
    },
}
DEFAULT_PROFILE = "low-latency"


def batching(handler: str, profile: str = DEFAULT_PROFILE) -> BatchingProfile:
    """The batching of ``handler`` under ``profile``; a clear error naming the valid choices."""
    try:
        by_handler = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown handler profile {profile!r}; expected one of {sorted(PROFILES)}") from None
    try:
        return by_handler[handler]
    except KeyError:
        raise ValueError(f"unknown handler {handler!r}; expected one of {sorted(by_handler)}") from None
