"""One settings object for every address, name and size the system uses.

Read from the environment (prefix ``FRAUDSTREAM_``) so that the same code runs against the
local stack, docker-compose (LocalStack) or AWS by changing variables, never code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Addresses, topic and table names, and engine sizes."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_", extra="ignore")

    # --- where local engines keep their state (logs, pids, data, checkpoints)
    state_dir: Path = Path(".fraudstream")
    host: str = "127.0.0.1"

    # --- Kafka
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_bootstrap_override: str | None = Field(
        default=None, validation_alias=AliasChoices("FRAUDSTREAM_KAFKA_BOOTSTRAP")
    )
    kafka_auth: str = "none"  # "msk-iam" on AWS: SASL_SSL + IAM (fraudstream.deploy.msk_iam.auth_config)
    partitions: int = 4
    topic_transactions: str = "transactions"
    topic_labels: str = "labels"
    topic_agg: str = "cc-agg"
    topic_predictions: str = "predictions"
    topic_dead_letter: str = "dead-letter"

    # --- DynamoDB (DynamoDB Local here, LocalStack under compose, AWS when set to "aws")
    dynamodb_port: int = 8000
    aws_endpoint_override: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FRAUDSTREAM_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
    )
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("FRAUDSTREAM_AWS_REGION", "AWS_REGION"))
    table_agg: str = "cc-agg-fg"
    table_batch: str = "cc-agg-batch-fg"

    # --- online store cache (the fraud-scorer's copy of the 1-week features; fraudstream.featurestore.batch_cache)
    batch_cache_check_interval_s: float = 1.0
    """How often (at most) the scorer re-reads the batch-version marker; a nightly load is seen within it."""
    batch_cache_max_cards: int = 1_000_000
    """Cards the scorer keeps (least recently used evicted, ~0.5 KB each); 0 turns the cache off."""

    # --- Flink
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123  # JobManager RPC (Pekko); tests pick a free one
    flink_rest_override: str | None = Field(default=None, validation_alias=AliasChoices("FRAUDSTREAM_FLINK_REST"))
    flink_parallelism: int = 1
    flink_checkpoint_interval_ms: int = 10_000
    flink_watermark_delay_ms: int = 0
    """Allowed per-card disorder: a transaction more than this before the newest event time already read
    for its card is late (dead-lettered); every transaction also waits this long after its arrival for
    stragglers of its card before it is computed."""
    flink_idle_timeout_ms: int = 0
    """0 = never declare a partition idle: the clock beats on every partition, and an idle partition
    could later deliver rows behind the others' watermark. Without a clock nothing is lost, only held."""
    flink_watermark_interval_ms: int = 5
    """How often the source emits its watermark (``pipeline.auto-watermark-interval``)."""
    flink_buffer_timeout_ms: int = 2
    """Longest a record waits in a network buffer between Flink tasks (``execution.buffer-timeout``)."""

    # --- stream clock (heartbeats that keep event time moving; fraudstream.streaming.clock)
    clock_interval_ms: int = 20
    clock_enabled: bool = True
    """``stack up`` starts the clock when Kafka is part of the stack."""

    # --- the lake (offline store; fraudstream.lake): Parquet by UTC day, local directory or s3://bucket/prefix
    lake_dir: str = "data/lake"
    lake_archiver_enabled: bool = True
    """``stack up`` starts the archiver (``fraudstream lake archive``) when Kafka is part of the stack."""
    lake_flush_records: int = 50_000
    """The archiver writes its buffered records (one file per topic and day) at this many records..."""
    lake_flush_interval_s: float = 10.0
    """...or when the oldest buffered record has waited this long; offsets are committed after the write."""

    # --- handler runners (the local stand-in for Lambda's event source mapping)
    handler_profile: str = "low-latency"
    """``low-latency`` (process what has arrived at once) or ``lambda`` (Lambda's defaults: batches of
    up to 100 records, 500 ms batching window); see fraudstream.handlers.profiles."""

    # --- model endpoint (SageMaker container contract)
    endpoint_port: int = 8080
    endpoint_url_override: str | None = Field(default=None, validation_alias=AliasChoices("FRAUDSTREAM_ENDPOINT_URL"))
    sagemaker_endpoint_name: str | None = None
    model_dir: Path = Path("models")

    # --- engine sizes that fit a 2-core / 24 GiB laptop
    kafka_heap: str = "384m"
    dynamodb_heap: str = "256m"
    flink_jobmanager_memory: str = "768m"
    flink_taskmanager_memory: str = "1280m"
    flink_task_slots: int = 4

    @property
    def kafka_bootstrap(self) -> str:
        """Bootstrap servers: the override when given, else the local broker."""
        return self.kafka_bootstrap_override or f"{self.host}:{self.kafka_port}"

    @property
    def aws_endpoint_url(self) -> str | None:
        """boto3 ``endpoint_url``: None means real AWS (override value ``aws``)."""
        if self.aws_endpoint_override is not None:
            value = self.aws_endpoint_override.strip()
            return None if value in ("", "aws") else value
        return f"http://{self.host}:{self.dynamodb_port}"

    @property
    def flink_rest(self) -> str:
        """Base URL of the Flink REST API."""
        return (self.flink_rest_override or f"http://{self.host}:{self.flink_rest_port}").rstrip("/")

    @property
    def endpoint_url(self) -> str:
        """Base URL of the model endpoint (``/invocations`` is appended by the client)."""
        return (self.endpoint_url_override or f"http://{self.host}:{self.endpoint_port}").rstrip("/")

    @property
    def all_topics(self) -> tuple[str, ...]:
        return (
            self.topic_transactions,
            self.topic_labels,
            self.topic_agg,
            self.topic_predictions,
            self.topic_dead_letter,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def env_name(field_name: str) -> str:
    """The environment variable a ``Settings`` field is read from (its alias when it has one)."""
    field = Settings.model_fields[field_name]
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    if isinstance(alias, str):
        return alias
    return f"FRAUDSTREAM_{field_name.upper()}"


def settings_env(settings: Settings) -> dict[str, str]:
    """Every explicitly-valued setting as environment variables, so a child process sees the same settings."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[env_name(name)] = str(Path(value).resolve()) if isinstance(value, Path) else str(value)
    return env
