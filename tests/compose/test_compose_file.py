"""docker-compose.yml checked without a Docker engine: structure, build contexts, ports, env names, commands.

What would break a `docker compose up` that no test here can run: a service that depends on a
missing one, a build context or Dockerfile that does not exist, two services on one host port,
a variable the code never reads (a silent misconfiguration), or a command the CLI does not have.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from fraudstream.cli.main import app
from fraudstream.lake.metrics import LakeMetricsSettings
from fraudstream.monitor.config import MonitorSettings
from fraudstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
REQUIRED = {
    "kafka", "localstack", "flink-jobmanager", "flink-taskmanager", "job-submitter",
    "endpoint", "agg-writer", "fraud-scorer", "bootstrap", "provision",
}  # fmt: skip
ONE_SHOTS = {"provision", "bootstrap", "job-submitter"}
# Variables read by third-party images or by our entrypoint script, not by Settings.
FOREIGN_ENV_PREFIXES = ("KAFKA_", "FLINK_", "SERVICES", "AWS_DEFAULT_REGION", "GF_")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


SETTINGS_CLASSES = (Settings, MonitorSettings, LakeMetricsSettings)
"""Every pydantic settings class a compose service's process reads (the monitor's and the archiver's own)."""


def settings_env_names() -> set[str]:
    """Every environment variable the settings classes read: <PREFIX><FIELD> or the field's aliases."""
    names = set()
    for cls in SETTINGS_CLASSES:
        names |= _env_names(cls)
    return names


def _env_names(cls: type) -> set[str]:
    prefix = cls.model_config.get("env_prefix", "")
    names = set()
    for name, field in cls.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        if choices:
            names.update(str(c).upper() for c in choices)
        elif isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def cli_root() -> Any:
    return typer.main.get_command(app)


def cli_envvars(command: Any) -> set[str]:
    """Environment variables declared by any CLI option (typer ``envvar=``)."""
    found = set()
    for param in getattr(command, "params", []):
        env = getattr(param, "envvar", None)
        if env:
            found.update([env] if isinstance(env, str) else env)
    for sub in getattr(command, "commands", {}).values():
        found |= cli_envvars(sub)
    return found


def resolve(tokens: list[str]) -> tuple[Any, list[str], list[str]]:
    """Walk ``fraudstream`` subcommands; returns (command, path, remaining args)."""
    command, path = cli_root(), []
    rest = list(tokens)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    return command, path, rest


def fraudstream_invocations(service: dict[str, Any]) -> list[list[str]]:
    """Each ``fraudstream ...`` command a service runs (list form, or inside ``sh -c``)."""
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] in (["sh", "-c"], ["bash", "-c"]):
        script = re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", r"\2", command[2])  # compose defaults
        invocations = []
        for part in re.split(r";|&&|\|\|", script):
            words = shlex.split(part.strip())
            if words and words[0] == "fraudstream":
                invocations.append(words[1:])
        return invocations
    return [command[1:]] if command[0] == "fraudstream" else []


def runtime_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


# ------------------------------------------------------------------------------------- tests
def test_every_part_of_the_system_is_a_service(services: dict[str, Any]) -> None:
    assert set(services) >= REQUIRED


def test_images_and_build_contexts_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            assert context.is_dir(), f"{name}: build context {context} does not exist"
            dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile.relative_to(ROOT)} does not exist"
            for src in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", dockerfile.read_text(), re.MULTILINE):
                for item in src.split():
                    assert (context / item).exists(), f"{dockerfile.name} copies {item}, which is not in the repo"


def test_engine_versions_match_the_local_stack(services: dict[str, Any]) -> None:
    pom = (ROOT / "infra/jvm/pom.xml").read_text()
    kafka_version = re.search(r"<kafka.version>([^<]+)<", pom).group(1)
    connector = re.search(r"<flink.kafka.connector.version>([^<]+)<", pom).group(1)
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    flink_dockerfile = (ROOT / services["flink-jobmanager"]["build"]["dockerfile"]).read_text()
    assert f"FLINK_KAFKA_CONNECTOR_VERSION={connector}" in flink_dockerfile
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"], "Kafka must run in KRaft mode"
    assert "dynamodb" in services["localstack"]["environment"]["SERVICES"]


def test_flink_roles_are_handled_by_the_entrypoint(services: dict[str, Any]) -> None:
    entrypoint = (ROOT / "infra/docker/flink-entrypoint.sh").read_text()
    for role in ("jobmanager", "taskmanager"):
        assert f"  {role})" in entrypoint
    assert services["flink-jobmanager"]["command"] == ["jobmanager"]
    assert services["flink-taskmanager"]["command"] == ["taskmanager"]


def test_host_ports_are_unique_loopback_and_match_the_defaults(services: dict[str, Any]) -> None:
    host_ports: dict[int, str] = {}
    for name, service in services.items():
        for mapping in service.get("ports", []):
            address, host, container = str(mapping).rsplit(":", 2)
            assert address == "${FRAUDSTREAM_PUBLISH_ADDRESS:-127.0.0.1}", f"{name} publishes {mapping} beyond loopback"
            assert int(host) not in host_ports, f"{name} and {host_ports.get(int(host))} both publish {host}"
            host_ports[int(host)] = name
            assert host == container
    defaults = Settings()
    assert host_ports[defaults.kafka_port] == "kafka"
    assert host_ports[defaults.flink_rest_port] == "flink-jobmanager"
    assert host_ports[defaults.endpoint_port] == "endpoint"


def test_dependencies_exist_and_are_healthchecked_or_one_shot(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], (
                    f"{name} waits for {dep} to be healthy, but it has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert dep in ONE_SHOTS and services[dep].get("restart") == "no", f"{dep} is not a one-shot"
            else:
                pytest.fail(f"{name}: use a real condition for {dep}, not {condition}")
    assert services["fraud-scorer"]["depends_on"]["endpoint"]["condition"] == "service_healthy"
    assert "bootstrap" in services["endpoint"]["depends_on"], "the endpoint needs the trained model"


def test_no_dependency_cycle(services: dict[str, Any]) -> None:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"dependency cycle through {name}"
        if name in done:
            return
        visiting.add(name)
        for dep in services[name].get("depends_on") or {}:
            visit(dep)
        visiting.discard(name)
        done.add(name)

    for name in services:
        visit(name)


def test_every_env_name_is_read_by_the_code(services: dict[str, Any]) -> None:
    known = settings_env_names() | cli_envvars(cli_root())
    for name, service in services.items():
        for key in runtime_environment(service):
            if key.startswith(FOREIGN_ENV_PREFIXES):
                continue
            assert key in known, f"{name}: {key} is not read by Settings or any CLI option"


def test_compose_environment_gives_the_container_addresses(services: dict[str, Any], monkeypatch) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("FRAUDSTREAM_") or key.startswith("AWS_"):
            monkeypatch.delenv(key, raising=False)
    for key, value in runtime_environment(services["fraud-scorer"]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka:29092"
    assert settings.aws_endpoint_url == "http://localstack:4566"
    assert settings.flink_rest == "http://flink-jobmanager:8081"
    assert settings.endpoint_url == "http://endpoint:8080"
    assert str(settings.model_dir) == "/models"


def test_every_command_is_a_real_cli_command_with_real_options(services: dict[str, Any]) -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    seen = 0
    for name, service in services.items():
        for tokens in fraudstream_invocations(service):
            seen += 1
            command, path, rest = resolve(tokens)
            assert path, f"{name}: `fraudstream {' '.join(tokens)}` is not a command"
            assert not hasattr(command, "commands"), f"{name}: `fraudstream {' '.join(path)}` needs a subcommand"
            options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
            for word in rest:
                if word.startswith("-"):
                    assert word.split("=", 1)[0] in options, f"{name}: {' '.join(path)} has no option {word}"
            result = runner.invoke(app, [*path, "--help"])
            assert result.exit_code == 0, (
                f"{name}: `fraudstream {' '.join(path)} --help` failed: {result.output[-400:]}"
            )
    assert seen >= 7, "expected the provision, bootstrap, submitter and handler commands"
