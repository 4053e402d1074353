"""pytest fixtures that give tests real engines: Kafka (KRaft), DynamoDB Local and a Flink cluster.

Session scope: each engine starts once per test session, on free ports, in a temporary state dir,
and is stopped at the end. When ``FRAUDSTREAM_KAFKA_BOOTSTRAP`` / ``AWS_ENDPOINT_URL`` /
``FRAUDSTREAM_FLINK_REST`` are set, the fixtures use those services instead of starting one.
(testcontainers is not used: the machines this runs on have no Docker engine, and the local
processes are the same engines.)

Per test: ``isolated_topics`` / ``isolated_tables`` / ``isolated_settings`` hand out a copy of the
session settings whose topic and table names are unique to the test, already created.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.settings import Settings, settings_env  # noqa: F401 - re-exported for tests
from fraudstream.stack.manager import Stack
from fraudstream.stack.ports import free_ports

ENV_NAMES = {
    "kafka": "FRAUDSTREAM_KAFKA_BOOTSTRAP",
    "dynamodb": "AWS_ENDPOINT_URL",
    "flink": "FRAUDSTREAM_FLINK_REST",
}


def make_test_settings(state_dir: Path) -> Settings:
    """Settings with free ports of their own and ``state_dir`` (external overrides still come from the env)."""
    kafka, controller, dynamodb, rest, rpc, endpoint, clock_metrics, agg_metrics, scorer_metrics = free_ports(9)
    return Settings(
        state_dir=state_dir,
        kafka_port=kafka,
        kafka_controller_port=controller,
        dynamodb_port=dynamodb,
        flink_rest_port=rest,
        flink_rpc_port=rpc,
        endpoint_port=endpoint,
        clock_metrics_port=clock_metrics,
        agg_writer_metrics_port=agg_metrics,
        fraud_scorer_metrics_port=scorer_metrics,
        model_dir=state_dir / "models",
        flink_task_slots=4,
        # tests use topics of their own: each starts a StreamClock on its topics when it needs one
        clock_enabled=False,
        # and a lake of their own (tests/lake runs the archiver itself)
        lake_dir=str(state_dir / "lake"),
        lake_archiver_enabled=False,
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Session settings: free ports and a temporary state dir."""
    return make_test_settings(tmp_path_factory.mktemp("fraudstream-state"))


@contextlib.contextmanager
def _engine(settings: Settings, name: str) -> Iterator[None]:
    """Start one engine for the session (unless external) and stop it afterwards."""
    stack = Stack(settings)
    if name in stack.external_engines():
        stack.provision([name])
        yield
        return
    try:
        stack.up(only=name)
        yield
    finally:
        stack.down(only=name)


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> Iterator[str]:
    """A real Kafka broker (KRaft) for the session: ``host:port``; default topics exist."""
    with _engine(settings, "kafka"):
        yield settings.kafka_bootstrap


@pytest.fixture(scope="session")
def dynamodb_endpoint(settings: Settings) -> Iterator[str]:
    """DynamoDB Local for the session: its ``endpoint_url``; the default tables exist."""
    with _engine(settings, "dynamodb"):
        yield str(settings.aws_endpoint_url)


@pytest.fixture(scope="session")
def flink_rest(settings: Settings) -> Iterator[str]:
    """A Flink session cluster (JobManager + TaskManager, Kafka SQL connector on its classpath): REST URL."""
    with _engine(settings, "flink"):
        yield settings.flink_rest


def _unique_suffix(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _topic_update(settings: Settings, suffix: str) -> dict[str, str]:
    return {
        "topic_transactions": f"{settings.topic_transactions}-{suffix}",
        "topic_labels": f"{settings.topic_labels}-{suffix}",
        "topic_agg": f"{settings.topic_agg}-{suffix}",
        "topic_predictions": f"{settings.topic_predictions}-{suffix}",
        "topic_dead_letter": f"{settings.topic_dead_letter}-{suffix}",
    }


def _table_update(settings: Settings, suffix: str) -> dict[str, str]:
    return {
        "table_agg": f"{settings.table_agg}-{suffix}",
        "table_batch": f"{settings.table_batch}-{suffix}",
        "table_card_windows": f"{settings.table_card_windows}-{suffix}",
        "table_merchant": f"{settings.table_merchant}-{suffix}",
    }


def isolated_copy(settings: Settings, suffix: str, **updates: object) -> Settings:
    """A copy of ``settings`` whose topic and table names end in ``suffix`` (nothing is created)."""
    return settings.model_copy(update={**_topic_update(settings, suffix), **_table_update(settings, suffix), **updates})


def _create_topics(settings: Settings) -> None:
    from fraudstream.kafka_clients import ensure_topics

    ensure_topics(settings)


def _delete_topics(settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient

    from fraudstream.kafka_clients import base_config

    with contextlib.suppress(Exception):
        AdminClient(base_config(settings)).delete_topics(list(settings.all_topics))


def _create_tables(settings: Settings) -> None:
    from fraudstream.featurestore.groups import ensure_tables

    ensure_tables(settings)


def _delete_tables(settings: Settings) -> None:
    from fraudstream.aws_clients import dynamodb_client

    client = dynamodb_client(settings)
    for table in (settings.table_agg, settings.table_batch, settings.table_card_windows, settings.table_merchant):
        with contextlib.suppress(Exception):
            client.delete_table(TableName=table)


@pytest.fixture
def isolated_topics(settings: Settings, kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings whose five topic names are unique to this test (created, ``settings.partitions`` each)."""
    isolated = settings.model_copy(update=_topic_update(settings, _unique_suffix(request)))
    _create_topics(isolated)
    yield isolated
    _delete_topics(isolated)


@pytest.fixture
def isolated_tables(settings: Settings, dynamodb_endpoint: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings whose two feature-group table names are unique to this test (created)."""
    isolated = settings.model_copy(update=_table_update(settings, _unique_suffix(request)))
    _create_tables(isolated)
    yield isolated
    _delete_tables(isolated)


@pytest.fixture
def isolated_settings(
    settings: Settings, kafka_bootstrap: str, dynamodb_endpoint: str, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Settings with unique topics and tables (both created)."""
    suffix = _unique_suffix(request)
    isolated = settings.model_copy(update={**_topic_update(settings, suffix), **_table_update(settings, suffix)})
    _create_topics(isolated)
    _create_tables(isolated)
    yield isolated
    _delete_topics(isolated)
    _delete_tables(isolated)
