"""Flink standalone session cluster (one JobManager, one TaskManager) from the PyFlink distribution.

The cluster gets its own ``FLINK_CONF_DIR`` (a ``config.yaml`` derived from the distribution's,
with addresses, memory sizes and state paths from the settings) and its own ``FLINK_LIB_DIR``
(links to the distribution's jars plus the Kafka SQL connector), so the installed wheel is never
modified. Python jobs run with the virtualenv's interpreter.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from fraudstream.settings import Settings
from fraudstream.stack.errors import StackError
from fraudstream.stack.flink_dist import flink_home
from fraudstream.stack.jars import java_executable, kafka_connector_jar
from fraudstream.stack.process import ManagedProcess

JOBMANAGER = "flink-jobmanager"
TASKMANAGER = "flink-taskmanager"


def flink_dir(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "flink"


def cluster_config(settings: Settings) -> dict[str, Any]:
    """Flat Flink options for the local cluster (merged over the distribution's ``config.yaml``)."""
    home, host = flink_dir(settings), settings.host
    return {
        "jobmanager.rpc.address": host,
        "jobmanager.rpc.port": settings.flink_rpc_port,
        "jobmanager.bind-host": host,
        "jobmanager.memory.process.size": settings.flink_jobmanager_memory,
        "taskmanager.host": host,
        "taskmanager.bind-host": host,
        "taskmanager.numberOfTaskSlots": settings.flink_task_slots,
        "taskmanager.memory.process.size": settings.flink_taskmanager_memory,
        # SQL jobs on the hashmap backend need little managed memory; give the task heap the rest.
        "taskmanager.memory.managed.fraction": 0.15,
        # Flink already starts the TaskManager with -Xms = -Xmx; touching the heap up front makes its
        # resident size the working size from the start (a 30-minute soak showed RSS climbing in a
        # straight line, 660 -> 790 MiB, as G1 first wrote pages of the committed heap), as for Kafka
        "env.java.opts.taskmanager": "-XX:+AlwaysPreTouch",
        "rest.address": host,
        "rest.bind-address": host,
        "rest.port": settings.flink_rest_port,
        "parallelism.default": settings.flink_parallelism,
        # a killed TaskManager is noticed by its failed heartbeat RPCs (rpc-failure-threshold, 2 in a
        # row): every 2 s instead of every 10 s, so a job fails over in seconds rather than ~50 s;
        # a TaskManager that stalls while still connected is given 15 s (GC, a starved laptop)
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 15000,
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": (home / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (home / "savepoints").as_uri(),
        "io.tmp.dirs": str(home / "tmp"),
        "web.tmpdir": str(home / "tmp"),
        "env.log.dir": str(home / "log"),
        "env.pid.dir": str(home / "run"),
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
    }


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (the standard YAML layout Flink 2 reads)."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"Flink option {key!r} clashes with a shorter key")
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError(f"Flink option {key!r} clashes with a longer key")
        node[parts[-1]] = value
    return tree


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def prepare(settings: Settings, fresh: bool = False) -> None:
    """Write conf/ and lib/ for the cluster; ``fresh`` drops checkpoints and savepoints."""
    home = flink_dir(settings)
    if fresh:
        for sub in ("checkpoints", "savepoints", "tmp"):
            shutil.rmtree(home / sub, ignore_errors=True)
    dist = flink_home()
    connector = kafka_connector_jar(settings)
    for sub in ("conf", "lib", "log", "run", "tmp", "checkpoints", "savepoints"):
        (home / sub).mkdir(parents=True, exist_ok=True)

    base = yaml.safe_load((dist / "conf" / "config.yaml").read_text()) or {}
    merged = {**flatten(base), **cluster_config(settings)}
    (home / "conf" / "config.yaml").write_text(yaml.safe_dump(nest(merged), sort_keys=True))
    for name in ("log4j-console.properties", "log4j.properties", "log4j-cli.properties", "logback-console.xml"):
        if (dist / "conf" / name).exists():
            shutil.copyfile(dist / "conf" / name, home / "conf" / name)

    lib = home / "lib"
    for link in lib.iterdir():
        link.unlink()
    for jar in [*sorted((dist / "lib").glob("*.jar")), connector]:
        (lib / jar.name).symlink_to(jar)


def cluster_env(settings: Settings) -> dict[str, str]:
    """Environment for Flink's scripts (and for ``flink run`` against this cluster)."""
    home = flink_dir(settings)
    java = Path(java_executable(settings)).resolve()
    return {
        "FLINK_CONF_DIR": str(home / "conf"),
        "FLINK_LIB_DIR": str(home / "lib"),
        "FLINK_LOG_DIR": str(home / "log"),
        "FLINK_PID_DIR": str(home / "run"),
        "JAVA_HOME": str(java.parent.parent),
    }


def overview(rest_url: str, timeout: float = 2.0) -> dict[str, Any]:
    """The JSON of ``GET /overview``."""
    with urllib.request.urlopen(f"{rest_url.rstrip('/')}/overview", timeout=timeout) as resp:
        return json.loads(resp.read())


def has_free_slot(rest_url: str) -> bool:
    """Ready for work: the REST API answers and a TaskManager offers a free slot."""
    info = overview(rest_url)
    return info.get("taskmanagers", 0) >= 1 and info.get("slots-available", 0) >= 1


def rest_answers(rest_url: str) -> bool:
    overview(rest_url)
    return True


def taskmanager_registered(rest_url: str) -> bool:
    return overview(rest_url).get("taskmanagers", 0) >= 1


def processes(settings: Settings) -> list[ManagedProcess]:
    dist = flink_home()
    env = cluster_env(settings)
    run_dir = settings.state_dir.resolve()
    rest = f"http://{settings.host}:{settings.flink_rest_port}"
    if not (dist / "bin" / "jobmanager.sh").exists():
        raise StackError(f"Flink scripts missing in {dist}; run `make setup`")
    jobmanager = ManagedProcess(
        name=JOBMANAGER,
        argv=["bash", str(dist / "bin" / "jobmanager.sh"), "start-foreground"],
        run_dir=run_dir,
        env=env,
        host=settings.host,
        ports=(settings.flink_rest_port, settings.flink_rpc_port),
        ready_check=lambda: rest_answers(rest),
        address=rest,
        port_hint="set FRAUDSTREAM_FLINK_REST_PORT / FRAUDSTREAM_FLINK_RPC_PORT",
    )
    taskmanager = ManagedProcess(
        name=TASKMANAGER,
        argv=["bash", str(dist / "bin" / "taskmanager.sh"), "start-foreground"],
        run_dir=run_dir,
        env=env,
        host=settings.host,
        ready_check=lambda: taskmanager_registered(rest),
        address=f"{settings.flink_task_slots} slots",
    )
    return [jobmanager, taskmanager]
