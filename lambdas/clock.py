"""AWS Lambda entry point of the stream clock (EventBridge Scheduler, every minute): ``clock.handler``.

Each invocation sends a heartbeat to every partition of ``transactions`` every
``FRAUDSTREAM_CLOCK_INTERVAL_MS`` until less than ``MARGIN_S`` of its time is left, so one
invocation a minute (reserved concurrency 1) keeps the cc-agg job's arrival watermark moving when
traffic is quiet. All logic lives in ``fraudstream.streaming.clock``. The role grants plain (not
idempotent) writes, so the producer here is not idempotent: a duplicated heartbeat is harmless.
"""

import time

from fraudstream.streaming.clock import StreamClock

MARGIN_S = 8.0
"""Stop this long before the function's timeout, so the next minute's invocation can start on time."""


def handler(event, context):
    """Beat until the invocation's time is nearly up; returns how many heartbeats were sent."""
    remaining_s = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 60.0
    budget_s = min(60.0 - 2.0, remaining_s - MARGIN_S)
    clock = StreamClock(producer_overrides={"enable.idempotence": False, "acks": "1"})
    stats = clock.run(deadline=time.monotonic() + max(0.0, budget_s))
    return {"beats": stats.beats, "records": stats.records, "failed": stats.failed, "partitions": stats.partitions}
