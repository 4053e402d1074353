"""DynamoDB Local (Maven jars + sqlite4java native library), bound to ``settings.host``.

Data lives in the state dir (``-dbPath``) and is shared by every credential/region (``-sharedDb``),
so the CLI, the handlers and tests with dummy credentials all see the same tables.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fraudstream.settings import Settings
from fraudstream.stack.jars import component_classpath, component_dir, java_executable
from fraudstream.stack.ports import is_listening
from fraudstream.stack.process import ManagedProcess

NAME = "dynamodb"
LAUNCHER_MAIN = "DynamoDBLocalOnHost"  # infra/jvm/launchers: DynamoDB Local has no bind-address option


def data_dir(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "dynamodb"


def prepare(settings: Settings, fresh: bool = False) -> None:
    data = data_dir(settings)
    if fresh and data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)


def list_tables_ready(endpoint_url: str, region: str = "us-east-1") -> bool:
    """True when the endpoint answers ListTables."""
    from urllib.parse import urlparse

    import boto3
    from botocore.config import Config

    url = urlparse(endpoint_url)
    if url.hostname and url.port and not is_listening(url.hostname, url.port):
        return False
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )
    client.list_tables(Limit=1)
    return True


def processes(settings: Settings) -> list[ManagedProcess]:
    native = component_dir("dynamodb", settings)  # holds libsqlite4java-linux-amd64.so
    classpath = f"{component_classpath('dynamodb', settings)}:{component_dir('launchers', settings)}"
    argv = [
        java_executable(settings),
        f"-Xmx{settings.dynamodb_heap}",
        "-Xms32m",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        f"-Djava.library.path={native}",
        f"-Dsqlite4java.library.path={native}",
        f"-Dfraudstream.service={NAME}",
        "-cp", classpath, LAUNCHER_MAIN, settings.host,
        "-port", str(settings.dynamodb_port), "-dbPath", str(data_dir(settings)), "-sharedDb", "-disableTelemetry",
    ]  # fmt: skip
    url = f"http://{settings.host}:{settings.dynamodb_port}"
    return [
        ManagedProcess(
            name=NAME,
            argv=argv,
            run_dir=settings.state_dir.resolve(),
            host=settings.host,
            ports=(settings.dynamodb_port,),
            ready_check=lambda: list_tables_ready(url, settings.aws_region),
            address=url,
            port_hint="set FRAUDSTREAM_DYNAMODB_PORT",
        )
    ]
