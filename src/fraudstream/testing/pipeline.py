"""The streaming pipeline of the end-to-end tests, running on one settings' topics and tables."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fraudstream.settings import Settings


@contextlib.contextmanager
def running_pipeline(settings: Settings) -> Iterator[Settings]:
    """The stream clock (in-process), the cc-agg job and both handler runners (the demo's managed
    processes), all on ``settings``' topics and tables (created here); stopped on exit."""
    from fraudstream.demo.services import HANDLERS, handler_process
    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.kafka_clients import ensure_topics
    from fraudstream.streaming.clock import StreamClock
    from fraudstream.streaming.submit import stop_job, submit_job

    ensure_topics(settings)
    ensure_tables(settings)
    clock = StreamClock(settings).start()
    submit_job(settings)
    runners = [handler_process(settings, name) for name in HANDLERS]
    try:
        for proc in runners:
            proc.start()
        for proc in runners:
            proc.wait_ready(timeout=90)
        yield settings
    finally:
        for proc in runners:
            proc.stop()
        stop_job(settings)
        clock.stop()
