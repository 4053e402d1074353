"""A bridge from Flink's REST metrics to the monitor's ``/metrics``: records in/out, late rows,
checkpoints and backpressure of the cc-agg job.

Why a bridge and not Flink's Prometheus reporter: the reporter needs its jar on the cluster's
classpath and one more port per JobManager and TaskManager, and Managed Flink on AWS has no such
port. The REST API is already what ``fraudstream flink status`` reads, it is there in every
deployment, and one scrape target (the monitor) then covers the stream too.

A thread polls the REST API every ``flink_poll_s``; a scrape only reads the last poll, so it never
waits on Flink. Flink down (or no job running) is not an error: ``fraudstream_flink_up`` and
``fraudstream_flink_job_running`` say so, and the job's figures are left out rather than shown stale.
Late and invalid rows are counted as ``fraudstream flink status`` counts them (each source record
once, read from the ``dead-letter`` topic, so they hold across job restarts); reading the topic
costs more than a REST call, so it runs every ``flink_dead_letter_poll_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from fraudstream.settings import Settings
from fraudstream.streaming.config import job_name_for
from fraudstream.streaming.rest import FlinkRest, FlinkRestError

log = logging.getLogger(__name__)
BACKPRESSURE_METRIC = "backPressuredTimeMsPerSecond"
MAX_VERTEX_CHARS = 80

# key -> (name, type, help, labels)
METRICS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "up": ("fraudstream_flink_up", "gauge", "1 when Flink's REST API answered the last poll", ()),
    "running": ("fraudstream_flink_job_running", "gauge", "1 when the cc-agg job is RUNNING", ()),
    "records_in": (
        "fraudstream_flink_records_in",
        "counter",
        "Records the cc-agg job read from Kafka since the job started",
        (),
    ),
    "records_out": (
        "fraudstream_flink_records_out",
        "counter",
        "10-minute aggregates the cc-agg job wrote since the job started",
        (),
    ),
    "checkpoints": (
        "fraudstream_flink_checkpoints",
        "counter",
        "Checkpoints of the running job by outcome (completed, failed)",
        ("outcome",),
    ),
    "checkpoint_age": (
        "fraudstream_flink_checkpoint_age_seconds",
        "gauge",
        "Seconds since the latest completed checkpoint of the running job",
        (),
    ),
    "backpressure": (
        "fraudstream_flink_backpressure_ratio",
        "gauge",
        "Share of time a job vertex was backpressured (mean over its subtasks)",
        ("vertex",),
    ),
    "late": (
        "fraudstream_flink_late_records",
        "gauge",
        "Rows the job dead-lettered as late for their card, on the dead-letter topic (as `flink status` counts)",
        (),
    ),
    "invalid": (
        "fraudstream_flink_invalid_records",
        "gauge",
        "Rows the job dead-lettered as invalid, on the dead-letter topic (as `flink status` counts)",
        (),
    ),
}


def family(key: str) -> Metric:
    """An empty metric family of one bridged metric (samples added by the caller)."""
    name, kind, doc, labels = METRICS[key]
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return cls(name, doc, labels=labels)


@dataclass(frozen=True)
class FlinkReading:
    """One poll of the REST API; the job's figures are there only while it is RUNNING."""

    up: bool
    running: bool = False
    job_id: str | None = None
    records_in: int = 0
    records_out: int = 0
    checkpoints: dict[str, int] = field(default_factory=dict)
    last_checkpoint_ms: int | None = None
    backpressure: dict[str, float] = field(default_factory=dict)


def vertex_label(vertex: dict[str, Any], taken: dict[str, float]) -> str:
    """A bounded label for a job vertex: its name (Flink SQL names are long) cut, made unique."""
    label = str(vertex.get("name") or vertex.get("id"))[:MAX_VERTEX_CHARS]
    return label if label not in taken else f"{label} #{len(taken)}"


def backpressure(rest: FlinkRest, job_id: str, vertices: list[dict[str, Any]]) -> dict[str, float]:
    """Mean backpressured share per vertex (0..1) from the subtasks' ``backPressuredTimeMsPerSecond``."""
    out: dict[str, float] = {}
    for vertex in vertices:
        summed = rest.vertex_metrics(job_id, vertex["id"], [BACKPRESSURE_METRIC]).get(BACKPRESSURE_METRIC)
        if summed is not None:
            out[vertex_label(vertex, out)] = summed / 1000.0 / max(1, int(vertex.get("parallelism") or 1))
    return out


def read_flink(settings: Settings, rest: FlinkRest) -> FlinkReading:
    """What the REST API says about the settings' cc-agg job now; ``up=False`` when it is unreachable."""
    from fraudstream.streaming.submit import job_metrics

    try:
        job = rest.latest_job(job_name_for(settings))
    except FlinkRestError:
        return FlinkReading(up=False)
    if job is None or job.get("state") != "RUNNING":
        return FlinkReading(up=True)
    job_id = job["jid"]
    try:
        counts = job_metrics(rest, job_id)
        checkpoints = rest.checkpoints(job_id)
        pressure = backpressure(rest, job_id, rest.job(job_id).get("vertices", []))
    except FlinkRestError as exc:  # the job ended between two calls, or the cluster went away
        log.debug("flink bridge: job %s not read (%s)", job_id, exc)
        return FlinkReading(up=True)
    latest = (checkpoints.get("latest") or {}).get("completed") or {}
    totals = checkpoints.get("counts", {})
    return FlinkReading(
        up=True,
        running=True,
        job_id=job_id,
        records_in=counts["records_in"],
        records_out=counts["records_out"],
        checkpoints={"completed": int(totals.get("completed", 0)), "failed": int(totals.get("failed", 0))},
        last_checkpoint_ms=latest.get("latest_ack_timestamp"),
        backpressure=pressure,
    )


class FlinkBridge:
    """Polls Flink (and the dead-letter counts) in a thread; a Prometheus collector of the last poll."""

    def __init__(
        self, settings: Settings, poll_s: float = 10.0, dead_letter_poll_s: float = 30.0, timeout_s: float = 5.0
    ) -> None:
        self.settings = settings
        self.poll_s = poll_s
        self.dead_letter_poll_s = dead_letter_poll_s
        self.timeout_s = timeout_s
        self.reading = FlinkReading(up=False)
        self.dead_letters: dict[str, int] | None = None

    def poll(self) -> FlinkReading:
        """Read the REST API once (never raises); logs when Flink comes up or goes away."""
        with FlinkRest(self.settings.flink_rest, timeout=self.timeout_s) as rest:
            reading = read_flink(self.settings, rest)
        if reading.up != self.reading.up:
            log.info("flink bridge: Flink REST at %s is %s", self.settings.flink_rest, "up" if reading.up else "down")
        self.reading = reading
        return reading

    def count_dead_letters(self) -> dict[str, int] | None:
        """Late and invalid rows on ``dead-letter`` as ``flink status`` counts them (None: Kafka not read)."""
        from fraudstream.streaming.submit import dead_letter_counts

        try:
            self.dead_letters = dead_letter_counts(self.settings, timeout=min(30.0, self.dead_letter_poll_s))
        except Exception as exc:  # Kafka unreachable: leave the figures out rather than show old ones
            log.debug("flink bridge: dead letters not counted (%s)", exc)
            self.dead_letters = None
        return self.dead_letters

    def checkpoint_age_s(self) -> float | None:
        """Seconds since the running job's latest completed checkpoint, now (None: no job or none yet)."""
        r = self.reading
        if not (r.running and r.last_checkpoint_ms):
            return None
        return max(0.0, time.time() - r.last_checkpoint_ms / 1000.0)

    def figures(self) -> dict[str, Any]:
        """The last poll as the JSON API's ``flink`` object: the figures /metrics shows, for the dashboard.

        As on /metrics, the job's figures are None (or empty) unless it is RUNNING, not shown stale."""
        r = self.reading
        job = r.running
        dead = self.dead_letters or {}
        return {
            "up": r.up,
            "job_running": job,
            "job_id": r.job_id,
            "records_in": r.records_in if job else None,
            "records_out": r.records_out if job else None,
            "checkpoints": dict(r.checkpoints) if job else {},
            "checkpoint_age_s": self.checkpoint_age_s(),
            "backpressure": dict(r.backpressure) if job else {},
            "late_records": dead.get("late"),
            "invalid_records": dead.get("invalid"),
        }

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        next_count = 0.0
        while not stop.is_set():
            self.poll()
            if time.monotonic() >= next_count:
                self.count_dead_letters()
                next_count = time.monotonic() + self.dead_letter_poll_s
            stop.wait(self.poll_s)

    # ---- prometheus_client collector protocol
    def describe(self) -> list[Metric]:
        return [family(key) for key in METRICS]

    def collect(self) -> Iterator[Metric]:
        r = self.reading
        yield _single("up", 1.0 if r.up else 0.0)
        yield _single("running", 1.0 if r.running else 0.0)
        if r.running:
            yield _single("records_in", r.records_in)
            yield _single("records_out", r.records_out)
            checkpoints = family("checkpoints")
            for outcome, count in r.checkpoints.items():
                checkpoints.add_metric([outcome], count)
            yield checkpoints
            age = self.checkpoint_age_s()
            if age is not None:
                yield _single("checkpoint_age", age)
            pressure = family("backpressure")
            for vertex, ratio in r.backpressure.items():
                pressure.add_metric([vertex], ratio)
            yield pressure
        if self.dead_letters is not None:
            yield _single("late", self.dead_letters["late"])
            yield _single("invalid", self.dead_letters["invalid"])


def _single(key: str, value: float) -> Metric:
    """A family of one unlabelled sample."""
    metric = family(key)
    metric.add_metric([], value)
    return metric
