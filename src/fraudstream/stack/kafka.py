"""Apache Kafka broker in KRaft mode (combined broker + controller, one node) from the Maven jars.

Storage is formatted on first start and kept across ``down``/``up``; ``fresh`` wipes it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from fraudstream.settings import Settings
from fraudstream.stack.errors import StackError
from fraudstream.stack.jars import component_classpath, infra_dir, java_executable
from fraudstream.stack.ports import is_listening
from fraudstream.stack.process import ManagedProcess

NAME = "kafka"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


def kafka_dir(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "kafka"


def server_properties(settings: Settings) -> str:
    """The broker configuration: listeners on ``settings.host``, single-node replication factors."""
    host, port, cport = settings.host, settings.kafka_port, settings.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(kafka_dir(settings) / "data"),
        "num.partitions": str(settings.partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "168",
        # a laptop's disk bounds the log, not only time: at 1,000 tx/s the log grew 2.5 GiB an hour (soak),
        # a week would be 400 GiB. 1 GiB a partition keeps hours of traffic at that rate; the lake keeps
        # everything (``fraudstream.lake``), so replays and the nightly job do not need the log's history
        "log.retention.bytes": str(1024 * 1024 * 1024),
        "log.segment.bytes": str(256 * 1024 * 1024),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _jvm_args(settings: Settings) -> list[str]:
    return [
        f"-Xmx{settings.kafka_heap}",
        # the whole heap up front (Kafka's own advice: -Xms = -Xmx): a heap growing towards -Xmx showed as
        # resident memory rising 21 % half an hour into the soak; pre-touched, it is flat from the start
        f"-Xms{settings.kafka_heap}",
        "-XX:+AlwaysPreTouch",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={infra_dir(settings) / 'kafka' / 'log4j2.properties'}",
        f"-Dfraudstream.service={NAME}",
    ]


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def prepare(settings: Settings, fresh: bool = False) -> None:
    """Write the config and format the storage once (kept across restarts unless ``fresh``)."""
    home = kafka_dir(settings)
    data = home / "data"
    if fresh and data.exists():
        shutil.rmtree(data)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(server_properties(settings))
    if (data / "meta.properties").exists():
        return
    cmd = [
        java_executable(settings), *_jvm_args(settings), "-XX:TieredStopAtLevel=1",
        "-cp", component_classpath("kafka", settings),
        STORAGE_TOOL,
        # "--cluster-id=<id>": an id may start with "-" (base64url), which argparse would read as an option
        "format", "--config", str(config), f"--cluster-id={_cluster_id()}", "--ignore-formatted",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"formatting Kafka storage in {data} failed: {detail[0]}")


def metadata_ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker answers a metadata request and lists itself."""
    from confluent_kafka.admin import AdminClient

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not is_listening(host, int(port)):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=timeout)
    return bool(metadata.brokers)


def processes(settings: Settings) -> list[ManagedProcess]:
    config = kafka_dir(settings) / "server.properties"
    classpath = component_classpath("kafka", settings)
    argv = [java_executable(settings), *_jvm_args(settings), "-cp", classpath, BROKER_MAIN, str(config)]
    bootstrap = f"{settings.host}:{settings.kafka_port}"  # the local broker, whatever the override says
    return [
        ManagedProcess(
            name=NAME,
            argv=argv,
            run_dir=settings.state_dir.resolve(),
            host=settings.host,
            ports=(settings.kafka_port, settings.kafka_controller_port),
            ready_check=lambda: metadata_ready(bootstrap),
            address=bootstrap,
            port_hint="set FRAUDSTREAM_KAFKA_PORT / FRAUDSTREAM_KAFKA_CONTROLLER_PORT",
        )
    ]
