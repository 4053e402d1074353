"""What the cc-agg Flink job needs to know, and where it learns it.

Nothing here is an address in code: the values come from :class:`~fraudstream.settings.Settings`
(environment, ``FRAUDSTREAM_*``), from Managed Service for Apache Flink runtime properties
(``/etc/flink/application_properties.json``), or from ``--set key=value`` arguments, in that order
of increasing precedence.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fraudstream.settings import Settings

JOB_NAME_PREFIX = "fraudstream-cc-agg"
MSF_PROPERTIES_PATH = Path("/etc/flink/application_properties.json")
"""Where Managed Service for Apache Flink puts the application's runtime properties."""
MSF_PROPERTY_GROUP = "FraudstreamJob"
"""The property group (``PropertyGroupId``) the job reads in MSF."""


def _default(name: str) -> Any:
    """A setting's default: the job's defaults are the settings' own, written once in ``Settings``."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class JobConfig:
    """Every knob of the cc-agg job; ``str`` values so they travel as properties and arguments."""

    bootstrap_servers: str
    topic_transactions: str = _default("topic_transactions")
    topic_agg: str = _default("topic_agg")
    topic_dead_letter: str = _default("topic_dead_letter")
    group_id: str = JOB_NAME_PREFIX
    job_name: str = JOB_NAME_PREFIX
    watermark_delay_ms: int = _default("flink_watermark_delay_ms")
    """Allowed per-card disorder (ms), and the watermark delay (see ``sql`` for the lateness rule)."""
    idle_timeout_ms: int = _default("flink_idle_timeout_ms")
    watermark_interval_ms: int = _default("flink_watermark_interval_ms")
    buffer_timeout_ms: int = _default("flink_buffer_timeout_ms")
    checkpoint_interval_ms: int = _default("flink_checkpoint_interval_ms")
    checkpoint_dir: str | None = None
    """URI for checkpoints; None keeps the cluster's ``execution.checkpointing.dir``."""
    parallelism: int | None = None
    from_savepoint: str | None = None
    connector_jar: str | None = None
    """Local path of the Kafka SQL connector for the client's classpath (``pipeline.jars``);
    None when the runtime already has it (``flink run --jarfile``, MSF application jar)."""
    udf_jar: str | None = None
    """Local path of the job's Java function (``fraudstream.streaming.udf``), shipped with the job;
    None when the runtime already has it on its classpath."""
    kafka_properties: str = ""
    """Extra Kafka client properties for source and sinks, e.g. MSK IAM auth: ``k=v;k=v`` or a JSON
    object (use JSON when a value contains ``;``, like ``sasl.jaas.config``)."""

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes: Any) -> JobConfig:
        return dataclasses.replace(self, **changes)

    def with_overrides(self, overrides: Mapping[str, Any]) -> JobConfig:
        """A copy with string overrides applied and converted to the fields' types."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, raw in overrides.items():
            name = key.strip().replace("-", "_").replace(".", "_").lower()
            if name not in known:
                raise ValueError(f"unknown job setting {key!r}; expected one of {sorted(known)}")
            changes[name] = _convert(known[name].type, raw)
        return dataclasses.replace(self, **changes)

    def as_args(self) -> list[str]:
        """``--set key=value`` arguments that rebuild this config in the job process."""
        args: list[str] = []
        for name in self.field_names():
            value = getattr(self, name)
            if value is not None:
                args += ["--set", f"{name}={value}"]
        return args

    def kafka_property_pairs(self) -> list[tuple[str, str]]:
        """``kafka_properties`` as (key, value) pairs."""
        text = self.kafka_properties.strip()
        if text.startswith("{"):
            return [(str(k), str(v)) for k, v in json.loads(text).items()]
        pairs = []
        for item in self.kafka_properties.split(";"):
            if item.strip():
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"kafka_properties item {item!r} is not key=value")
                pairs.append((key.strip(), value.strip()))
        return pairs


def _convert(type_name: Any, raw: Any) -> Any:
    text = str(type_name)
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null") and "None" in text):
        return None
    if text.startswith("int"):
        return int(raw)
    return str(raw)


def job_name_for(settings: Settings) -> str:
    """One job per (input, output) topic pair: the idempotency key of ``submit``; the default pair keeps
    the plain name."""
    if (settings.topic_transactions, settings.topic_agg) == (_default("topic_transactions"), _default("topic_agg")):
        return JOB_NAME_PREFIX
    return f"{JOB_NAME_PREFIX}[{settings.topic_transactions}->{settings.topic_agg}]"


def config_from_settings(settings: Settings, **changes: Any) -> JobConfig:
    """The job configuration the local stack (or any env-configured deployment) uses."""
    name = job_name_for(settings)
    cfg = JobConfig(
        bootstrap_servers=settings.kafka_bootstrap,
        topic_transactions=settings.topic_transactions,
        topic_agg=settings.topic_agg,
        topic_dead_letter=settings.topic_dead_letter,
        group_id=name.replace("[", ".").replace("->", ".").rstrip("]"),
        job_name=name,
        watermark_delay_ms=settings.flink_watermark_delay_ms,
        idle_timeout_ms=settings.flink_idle_timeout_ms,
        watermark_interval_ms=settings.flink_watermark_interval_ms,
        buffer_timeout_ms=settings.flink_buffer_timeout_ms,
        checkpoint_interval_ms=settings.flink_checkpoint_interval_ms,
        parallelism=settings.flink_parallelism,
    )
    return cfg.replace(**changes) if changes else cfg


def msf_overrides(path: Path = MSF_PROPERTIES_PATH, group: str = MSF_PROPERTY_GROUP) -> dict[str, str]:
    """The job's property group from MSF's ``application_properties.json`` ({} when absent)."""
    if not path.exists():
        return {}
    groups = json.loads(path.read_text())
    for entry in groups:
        if entry.get("PropertyGroupId") == group:
            return {str(k): str(v) for k, v in (entry.get("PropertyMap") or {}).items()}
    return {}


def parse_set_args(items: Iterable[str]) -> dict[str, str]:
    """``["key=value", ...]`` -> dict, with a clear error for a malformed item."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key] = value
    return out
