"""The demo's long-running services as managed background processes: the endpoint and both handler runners.

They reuse the stack's ``ManagedProcess`` (pid file + start time, log file, readiness check), so
``fraudstream demo --stop`` (or ``fraudstream stack down``) stops exactly these processes, and a re-run
finds them running and reuses them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fraudstream.settings import Settings, env_name, settings_env
from fraudstream.stack.ports import metrics_address, metrics_env
from fraudstream.stack.process import ManagedProcess, off_verdict_path

HANDLERS = ("agg-writer", "fraud-scorer")
ENDPOINT = "endpoint"


def cli_argv() -> list[str]:
    """How to run the ``fraudstream`` CLI in a child process (same interpreter, same install)."""
    return [sys.executable, "-m", "fraudstream.cli.main"]


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def endpoint_process(settings: Settings, model: str = "latest") -> ManagedProcess:
    """``fraudstream serve`` on the settings' endpoint port, ready when ``GET /ping`` answers 200."""
    return ManagedProcess(
        name=ENDPOINT,
        argv=[*cli_argv(), "serve", "--model", model, "--host", settings.host, "--port", str(settings.endpoint_port)],
        run_dir=Path(settings.state_dir).resolve(),
        env=settings_env(settings),
        host=settings.host,
        ports=(settings.endpoint_port,),
        ready_check=lambda: _http_ok(f"{settings.endpoint_url}/ping"),
        address=settings.endpoint_url,
        port_hint="set FRAUDSTREAM_ENDPOINT_PORT to another port",
    )


def consumer_group_active(settings: Settings, group_id: str) -> bool:
    """True when the consumer group has at least one member (the runner has joined and got partitions)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    futures = admin.describe_consumer_groups([group_id], request_timeout=5)
    description: Any = futures[group_id].result(timeout=10)
    return bool(description.members) and any(m.assignment.topic_partitions for m in description.members)


def metrics_port_setting(name: str) -> str:
    """The ``Settings`` field holding a runner's /metrics port (one per runner: each is its own process)."""
    return f"{name.replace('-', '_')}_metrics_port"


def handler_process(settings: Settings, name: str) -> ManagedProcess:
    """``fraudstream handlers run NAME`` with the settings' batching profile, ready when its consumer
    group has partitions assigned; /metrics on its port from the settings."""
    from fraudstream.handlers.runner import group_id_for

    if name not in HANDLERS:
        raise ValueError(f"unknown handler {name!r}; expected one of {HANDLERS}")
    group = group_id_for(name, settings)
    field = metrics_port_setting(name)
    port: int = getattr(settings, field)
    # The agg-writer is not on the verdict path: on a small machine its store writes (DynamoDB Local
    # burns a core at 1,000 writes/s) must not take the CPU from the scorer, so it runs at a lower
    # priority and catches up in the gaps.
    nice = off_verdict_path() if name == "agg-writer" else []
    return ManagedProcess(
        name=name,
        argv=[*nice, *cli_argv(), "handlers", "run", name, "--profile", settings.handler_profile],
        run_dir=Path(settings.state_dir).resolve(),
        env={**settings_env(settings), **metrics_env(env_name("handler_metrics_port"), port)},
        host=settings.host,
        ports=(port,) if port else (),
        ready_check=lambda: consumer_group_active(settings, group),
        address=f"group {group}; {metrics_address(settings.host, port)}",
        port_hint=f"set {env_name(field)} to another port (0: no metrics)",
    )


def demo_processes(settings: Settings) -> list[ManagedProcess]:
    """All the demo's background processes, in start order."""
    return [endpoint_process(settings), *(handler_process(settings, name) for name in HANDLERS)]


def stop_all(settings: Settings) -> list[str]:
    """Stop the supervisor first (so it restarts nothing), then these services, then the stack's engines."""
    from fraudstream.stack.manager import Stack
    from fraudstream.stack.supervisor import stop_supervisor

    stopped = ["supervisor"] if stop_supervisor(settings) else []
    stopped += [proc.name for proc in reversed(demo_processes(settings)) if proc.stop()]
    return stopped + Stack(settings).down()
