"""Submit, watch and stop the cc-agg job on a Flink session cluster.

``submit_job`` is idempotent: when a job with the same name (one per input/output topic pair)
is already active, it returns that job's id instead of starting a second copy. The job itself
is started by running ``python -m fraudstream.streaming.job_main`` with this interpreter: PyFlink plans
the SQL on the client (which needs the Kafka connector jar) and submits the job graph over REST.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

from fraudstream.settings import Settings, get_settings
from fraudstream.streaming import sql
from fraudstream.streaming.config import JobConfig, config_from_settings, job_name_for
from fraudstream.streaming.job_main import MODULE as JOB_MODULE
from fraudstream.streaming.rest import FlinkRest, FlinkRestError

SUBMIT_TIMEOUT_S = 300.0


class SubmitError(RuntimeError):
    """The job could not be submitted; the message carries the client's output."""


def _connector_jar(settings: Settings) -> str | None:
    from fraudstream.stack.errors import StackError
    from fraudstream.stack.jars import kafka_connector_jar

    try:
        return str(kafka_connector_jar(settings))
    except StackError:  # not fetched: the runtime must provide the connector itself
        return None


def job_config(settings: Settings, parallelism: int | None = None, from_savepoint: str | None = None) -> JobConfig:
    """The job's configuration for these settings (connector jar from the stack, the Java function built)."""
    from fraudstream.streaming.udf import card_window_jar

    cfg = config_from_settings(
        settings,
        connector_jar=_connector_jar(settings),
        udf_jar=str(card_window_jar(settings)),
        from_savepoint=from_savepoint,
    )
    return cfg.replace(parallelism=parallelism) if parallelism else cfg


def submit_job(
    settings: Settings | None = None,
    parallelism: int | None = None,
    from_savepoint: str | None = None,
    config: JobConfig | None = None,
    wait_running: bool = True,
) -> str:
    """Start the job unless an active copy exists; returns the (new or existing) job id."""
    settings = settings or get_settings()
    cfg = config or job_config(settings, parallelism, from_savepoint)
    with FlinkRest(settings.flink_rest) as rest:
        active = rest.active_jobs(cfg.job_name)
        if active:
            return active[0]["jid"]
        job_id = _run_job_client(cfg, settings.flink_rest)
        if wait_running:
            rest.wait_until_all_tasks_running(job_id)
    return job_id


def _run_job_client(cfg: JobConfig, rest_url: str) -> str:
    cmd = [sys.executable, "-m", JOB_MODULE, "--rest-url", rest_url, *cfg.as_args()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SubmitError(f"job client did not finish within {SUBMIT_TIMEOUT_S:.0f} s") from exc
    match = re.search(r"^JOB_ID=([0-9a-f]{32})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise SubmitError(f"submitting {cfg.job_name} failed (exit {proc.returncode}):\n{tail}")
    return match.group(1)


def _metric(metrics: dict[str, float], suffix: str) -> int:
    return int(sum(v for k, v in metrics.items() if k.endswith(suffix)))


def _sink_metric(metrics: dict[str, float], table: str) -> int:
    return int(sum(v for k, v in metrics.items() if k.startswith(f"{table}[") and k.endswith("Writer.numRecordsSend")))


def job_metrics(rest: FlinkRest, job_id: str) -> dict[str, int]:
    """Records in/out of the job and per sink, late and dropped counts (sums over subtasks)."""
    info = rest.job(job_id)
    metrics: dict[str, float] = {}
    for vertex in info.get("vertices", []):
        names = rest.vertex_metric_names(job_id, vertex["id"])
        wanted = [
            n
            for n in names
            if n.endswith(("numRecordsSend", "numLateRecordsDropped"))
            or (n.startswith("Source__") and n.endswith(".numRecordsOut"))
        ]
        if wanted:
            metrics.update(rest.vertex_metrics(job_id, vertex["id"], wanted))
    return {
        "records_in": _metric({k: v for k, v in metrics.items() if k.startswith("Source__")}, ".numRecordsOut"),
        "records_out": _sink_metric(metrics, sql.AGG_SINK),
        "dead_letters": _sink_metric(metrics, sql.DEAD_LETTER_SINK),
        "late_records": _sink_metric(metrics, sql.LATE_SINK),
    }


def dead_letter_counts(settings: Settings, timeout: float = 30.0) -> dict[str, int]:
    """What the job has put on ``dead-letter``, read from the topic itself: ``late`` and ``invalid`` rows.

    Counted once per source record (the dead-letter key is ``<topic>-<partition>-<offset>``), so a
    record written twice by at-least-once delivery after a restart counts once, and the figures hold
    across job restarts, unlike the job's metrics, which start from zero with every run.
    """
    from confluent_kafka import Consumer, TopicPartition

    from fraudstream.kafka_clients import consumer_config

    topic = settings.topic_dead_letter
    consumer = Consumer(consumer_config(f"fraudstream-status-{time.time_ns()}", settings))
    late: set[bytes] = set()
    invalid: set[bytes] = set()
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or not meta.partitions:
            return {"late": 0, "invalid": 0}
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in meta.partitions}
        remaining = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
        deadline = time.monotonic() + timeout
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(5000, 0.5):
                if msg.error():
                    continue
                if msg.offset() + 1 >= ends[msg.partition()][1]:
                    remaining.discard(msg.partition())
                try:
                    value = json.loads(msg.value())
                except (TypeError, ValueError):
                    continue
                if value.get("stage") != sql.DEAD_LETTER_STAGE:
                    continue
                key = msg.key() or f"{msg.partition()}-{msg.offset()}".encode()
                (late if str(value.get("error", "")).startswith(sql.LATE_REASON_PREFIX) else invalid).add(key)
    finally:
        consumer.close()
    return {"late": len(late), "invalid": len(invalid)}


def job_status(settings: Settings | None = None) -> dict[str, Any] | None:
    """The latest cc-agg job of these settings: id, state, records in/out, last checkpoint (None if none)."""
    settings = settings or get_settings()
    name = job_name_for(settings)
    with FlinkRest(settings.flink_rest) as rest:
        job = rest.latest_job(name)
        if job is None:
            return None
        job_id = job["jid"]
        status: dict[str, Any] = {"job_id": job_id, "name": name, "state": job.get("state")}
        if job.get("state") == "RUNNING":
            try:
                status["since_job_start"] = job_metrics(rest, job_id)
                status["records_in"] = status["since_job_start"]["records_in"]
                status["records_out"] = status["since_job_start"]["records_out"]
            except FlinkRestError as exc:
                status["metrics_error"] = str(exc)
        try:
            counts = dead_letter_counts(settings)
            status["late_records"], status["dead_letters"] = counts["late"], counts["invalid"]
        except Exception as exc:  # Kafka unreachable: say so, keep the rest of the status
            status["dead_letter_error"] = str(exc)
        checkpoints = rest.checkpoints(job_id)
        latest = (checkpoints.get("latest") or {}).get("completed") or {}
        counts = checkpoints.get("counts", {})
        status["checkpoints"] = {"completed": counts.get("completed", 0), "failed": counts.get("failed", 0)}
        status["last_checkpoint"] = (
            {
                "id": latest.get("id"),
                "completed_at_ms": latest.get("latest_ack_timestamp"),
                "path": latest.get("external_path"),
                "size_bytes": latest.get("checkpointed_size", latest.get("state_size")),
            }
            if latest
            else None
        )
        return status


def stop_job(settings: Settings | None = None, savepoint: bool = False, target_directory: str | None = None) -> dict:
    """Stop the active cc-agg job: with a savepoint (returns its path) or by cancelling it.

    The job keeps its latest checkpoint on cancel (RETAIN_ON_CANCELLATION), so a cancelled job
    can also be resumed with ``--from-savepoint <checkpoint path>``.
    """
    settings = settings or get_settings()
    name = job_name_for(settings)
    with FlinkRest(settings.flink_rest) as rest:
        active = rest.active_jobs(name)
        if not active:
            return {"job_id": None, "stopped": False, "savepoint": None}
        job_id = active[0]["jid"]
        location = None
        if savepoint:
            location = rest.stop_with_savepoint(job_id, target_directory or _default_savepoint_dir(settings))
        else:
            rest.cancel(job_id)
        rest.wait_for_state(job_id, {"FINISHED", "CANCELED"})
        return {"job_id": job_id, "stopped": True, "savepoint": location}


def _default_savepoint_dir(settings: Settings) -> str | None:
    """The stack's savepoint folder when the cluster is the local one, else the cluster default."""
    if settings.flink_rest_override:
        return None
    path = settings.state_dir.resolve() / "flink" / "savepoints"
    return path.as_uri() if path.parent.is_dir() else None
