"""One settings object for every address, name and size the system uses.

Read from the environment (prefix ``FRAUDSTREAM_``) so that the same code runs against the
local stack, docker-compose (LocalStack) or AWS by changing variables, never code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_MARKER = Path("infra") / "jvm" / "pom.xml"
"""What marks the source checkout: the Maven manifest of the JVM engines ``make setup`` fetches."""


def find_project_dir(start: Path | None = None) -> Path:
    """The checkout the command runs in: ``start`` (the working directory) or its nearest parent holding
    ``infra/jvm/pom.xml``, as git finds its repository; ``start`` itself when there is none.

    Why the working directory and not this file: an installed package lives in site-packages, far from
    any checkout, so only the place the user works from (or ``FRAUDSTREAM_PROJECT_DIR``) can say where it is.
    """
    start = (start or Path.cwd()).resolve()
    return next((d for d in (start, *start.parents) if (d / PROJECT_MARKER).is_file()), start)


class Settings(BaseSettings):
    """Addresses, topic and table names, and engine sizes."""

    model_config = SettingsConfigDict(env_prefix="FRAUDSTREAM_", extra="ignore")

    # --- where local engines keep their state (logs, pids, data, checkpoints)
    state_dir: Path = Path(".fraudstream")
    host: str = "127.0.0.1"

    # --- the source checkout's files (the package carries its own data files; these live beside it)
    project_dir: Path = Field(default_factory=find_project_dir)
    """The checkout with ``infra/`` (JVM engines fetched by ``make setup``, engine configs, CloudFormation
    templates), ``lambdas/`` and ``flink_jobs/``; see :func:`find_project_dir`."""
    jvm_lib_dir: Path | None = None
    """The JVM engines (default ``<project_dir>/infra/jvm/lib``)."""
    cfn_dir: Path | None = None
    """The CloudFormation templates ``deploy`` uses (default ``<project_dir>/infra/cloudformation``)."""
    schema_dir: Path | None = None
    """Where ``fraudstream schemas`` writes the JSON Schemas (default ``<project_dir>/schemas``)."""
    java_home: str | None = Field(default=None, validation_alias=AliasChoices("FRAUDSTREAM_JAVA_HOME", "JAVA_HOME"))
    """The JDK the engines run with (and the job's Java function is compiled with); empty: ``java`` on PATH."""

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
    aws_max_attempts: int = 5
    """botocore's attempts per AWS call (standard retry mode), for every client: stack, handlers and deploy."""
    table_agg: str = "cc-agg-fg"
    table_batch: str = "cc-agg-batch-fg"
    table_card_windows: str = "cc-windows-fg"
    """The card windows group (nightly count and mean amount over 1 / 7 / 30 days per card; issue 15)."""
    table_merchant: str = "merchant-fg"
    """The merchant feature group (nightly count and fraud risk per merchant; issue 15)."""
    label_delay_days: int = 7
    """Merchant risk windows end this many days before each night (chargebacks arrive late; the
    Fraud-Detection-Handbook's delay). The nightly load and the training set both default to it."""

    # --- online store cache (the fraud-scorer's copy of the 1-week features; fraudstream.featurestore.batch_cache)
    batch_cache_check_interval_s: float = 1.0
    """How often (at most) the scorer re-reads the batch-version marker; a nightly load is seen within it."""
    batch_cache_max_cards: int = 1_000_000
    """Cards the scorer keeps (least recently used evicted, ~0.5 KB each); 0 turns the cache off."""
    batch_cache_prefetch_max_cards: int = 100_000
    """On start and on every new batch version the scorer reads up to this many cards of the batch
    group in the background (one consistent Scan), so a card's first transaction after a nightly
    run does not wait for a store read; 0 = read each card on its first use only."""

    # --- Flink
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123  # JobManager RPC (Pekko); tests pick a free one
    flink_rest_override: str | None = Field(default=None, validation_alias=AliasChoices("FRAUDSTREAM_FLINK_REST"))
    flink_parallelism: int = 1
    flink_checkpoint_interval_ms: int = 10_000
    flink_watermark_delay_ms: int = 5
    """Allowed per-card disorder: a transaction more than this before the newest event time already read
    for its card is late (dead-lettered); every transaction also waits this long after its arrival for
    stragglers of its card before it is computed. 5 ms, not 0: a same-millisecond peer sent right after
    a row can reach the broker a few ms later, behind another record of the partition (docs/streaming.md)."""
    flink_idle_timeout_ms: int = 0
    """0 = never declare a partition idle: the clock beats on every partition, and an idle partition
    could later deliver rows behind the others' watermark. Without a clock nothing is lost, only held."""
    flink_watermark_interval_ms: int = 5
    """How often the source emits its watermark (``pipeline.auto-watermark-interval``)."""
    flink_buffer_timeout_ms: int = 2
    """Longest a record waits in a network buffer between Flink tasks (``execution.buffer-timeout``)."""
    kafka_connector_jar: Path | None = None
    """The Flink Kafka SQL connector for the job client (default: the one ``make setup`` fetched)."""
    flink_udf_jar: Path | None = None
    """A prebuilt jar of the job's Java function (images and MSF ship one); None: built into the state dir."""

    # --- stream clock (heartbeats that keep event time moving; fraudstream.streaming.clock)
    clock_interval_ms: int = 20
    clock_enabled: bool = True
    """``stack up`` starts the clock when Kafka is part of the stack."""
    clock_metrics_port: int = 8091
    """Where ``fraudstream clock`` serves /metrics (the stack's clock; 0 = not served). Its variable,
    ``FRAUDSTREAM_CLOCK_METRICS_PORT``, is the one the clock reads (fraudstream.kafka_metrics)."""

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
    agg_writer_metrics_port: int = 8092
    fraud_scorer_metrics_port: int = 8093
    """Where the stack's runners serve /metrics (0 = not served): each is started with its own port as
    ``handler_metrics_port`` (fraudstream.demo.services)."""
    metrics_host: str = "127.0.0.1"
    """The address every /metrics server of the clock, the producer and the runners binds to
    (``FRAUDSTREAM_METRICS_HOST``, read by fraudstream.metrics_http; compose sets 0.0.0.0)."""
    handler_metrics_port: int | None = None
    """The port one runner process serves /metrics on (``FRAUDSTREAM_HANDLER_METRICS_PORT``, read by
    fraudstream.handlers.metrics); the stack sets it per runner from the two above."""
    producer_metrics_port: int | None = None
    """Where ``produce``, ``replay`` and the demo's sender serve /metrics while they run (unset: not served)."""
    supervisor_metrics_port: int | None = None
    """Where the stack supervisor serves /metrics (unset: not served; test sessions run several)."""

    # --- model endpoint (SageMaker container contract)
    endpoint_port: int = 8080
    sagemaker_bind_to_port: int | None = Field(default=None, validation_alias=AliasChoices("SAGEMAKER_BIND_TO_PORT"))
    """The port SageMaker tells a container to listen on (multi-container endpoints); over ``endpoint_port``."""
    serve_host: str | None = None
    """The address the endpoint binds to; unset: ``host`` for ``fraudstream serve``, 0.0.0.0 in the container."""
    model_version: str = "latest"
    """The registry version the endpoint serves (``fraudstream serve --model``, the container's entry point)."""
    endpoint_url_override: str | None = Field(default=None, validation_alias=AliasChoices("FRAUDSTREAM_ENDPOINT_URL"))
    sagemaker_endpoint_name: str | None = None
    model_dir: Path = Path("models")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """The scorer's decision threshold, over the endpoint's and the registry's (fraudstream.handlers.scoring_config)."""
    feature_set: str | None = None
    """The scorer's feature set, over the registry's (fraudstream.handlers.scoring_config)."""

    # --- Spark (fraudstream.batch.spark_session)
    spark_master: str | None = None
    """The Spark master URL (unset: ``local[*]``); e.g. spark://host:7077, yarn."""
    spark_driver_memory: str | None = None
    """The driver's memory for a local master (unset: spark_session.LOCAL_DRIVER_MEMORY)."""
    spark_packages: str | None = None
    """``spark.jars.packages`` (e.g. org.apache.hadoop:hadoop-aws:3.4.1 for s3a:// paths)."""

    # --- engine sizes that fit a 2-core / 24 GiB laptop
    kafka_heap: str = "384m"
    dynamodb_heap: str = "256m"
    flink_jobmanager_memory: str = "768m"
    flink_taskmanager_memory: str = "1280m"
    flink_task_slots: int = 4

    @field_validator("threshold", "feature_set", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty variable (a template's optional parameter left blank) means: not set."""
        return None if isinstance(value, str) and not value.strip() else value

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
    def serve_port(self) -> int:
        """The port the endpoint listens on: SageMaker's ``SAGEMAKER_BIND_TO_PORT`` when set, else ``endpoint_port``."""
        return self.sagemaker_bind_to_port or self.endpoint_port

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
