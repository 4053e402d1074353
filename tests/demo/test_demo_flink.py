"""The demo's Flink stage: it submits the job of its settings and finds it by name, also when reused."""

from __future__ import annotations

import contextlib
import io

import pytest
from rich.console import Console

from fraudstream.demo.pipeline import _flink
from fraudstream.demo.stages import StageLog
from fraudstream.settings import Settings
from fraudstream.streaming import testkit
from fraudstream.streaming.submit import job_status, stop_job

pytestmark = pytest.mark.integration


def test_flink_stage_waits_for_the_job_of_its_name(settings: Settings, kafka_bootstrap: str, flink_rest: str) -> None:
    run = testkit.job_settings(settings, "demo")
    console = Console(file=io.StringIO())
    log = StageLog(console, total=2)
    try:
        _flink(log, run, console)
        status = job_status(run) or {}
        assert status.get("state") == "RUNNING"
        assert log.records[0].detail == f"job {status['job_id']} RUNNING"
        _flink(log, run, console)  # a second run reuses the active job of that name
        assert log.records[1].detail == log.records[0].detail
    finally:
        with contextlib.suppress(Exception):
            stop_job(run)
