"""A real Spark standalone cluster on loopback (one master, one worker) from the pyspark distribution.

Used by tests that prove the ``spark_batch/`` entry points run under ``spark-submit --master
spark://…`` and give the ``local[*]`` result. Small memory (256 MB daemons, a 1 GB worker) so it
fits next to the other engines on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fraudstream.waiting import wait_until


def spark_home() -> Path:
    """The pyspark package directory: it holds ``bin/spark-class``, ``bin/spark-submit`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class StandaloneCluster:
    master_url: str
    ui_url: str
    work_dir: Path

    def env(self) -> dict[str, str]:
        """Environment for ``spark-submit`` and the executors (same Python, UTC, no stray SPARK_HOME)."""
        return {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "TZ": "UTC",
        }

    def _state(self) -> dict:
        with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=5) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        return sum(1 for w in self._state().get("workers", []) if w.get("state") == "ALIVE")

    def finished_apps(self) -> int:
        """Applications that ran on this cluster and finished (a job that fell back to local[*] is not one)."""
        return sum(1 for app in self._state().get("completedapps", []) if app.get("state") == "FINISHED")

    def submit(self, script: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
        """``spark-submit --master spark://…`` (client mode, 1 executor of 512 MB); returns stdout."""
        command = [
            str(spark_home() / "bin" / "spark-submit"),
            "--master", self.master_url,
            "--conf", "spark.executor.memory=512m",
            "--conf", "spark.driver.memory=768m",
            "--conf", "spark.cores.max=2",
            "--conf", "spark.sql.shuffle.partitions=4",
            "--conf", "spark.driver.host=127.0.0.1",
            str(script), *args,
        ]  # fmt: skip
        done = subprocess.run(
            command, env={**self.env(), **(env or {})}, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"spark-submit failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout


def _daemon(cls: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    spark_class = str(spark_home() / "bin" / "spark-class")
    with open(log, "ab") as out:
        return subprocess.Popen([spark_class, cls, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def standalone_cluster(work_dir: Path, worker_memory: str = "1g", timeout: float = 120) -> Iterator[StandaloneCluster]:
    """Start a master and one worker on 127.0.0.1; stop both (by their own pids) on exit."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port, ui_port, worker_ui = _free_port(), _free_port(), _free_port()
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}", work_dir)
    env = {**cluster.env(), "SPARK_DAEMON_MEMORY": "256m", "SPARK_WORKER_DIR": str(work_dir / "worker")}
    master = _daemon(
        "org.apache.spark.deploy.master.Master",
        ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)],
        env,
        work_dir / "master.log",
    )
    worker = None
    try:
        worker = _daemon(
            "org.apache.spark.deploy.worker.Worker",
            [cluster.master_url, "--host", "127.0.0.1", "--webui-port", str(worker_ui), "--cores", "2",
             "--memory", worker_memory, "--work-dir", str(work_dir / "worker")],
            env,
            work_dir / "worker.log",
        )  # fmt: skip

        def registered() -> bool:
            try:
                if cluster.alive_workers() >= 1:
                    return True
            except OSError:
                pass
            for proc, name in ((master, "master"), (worker, "worker")):
                if proc.poll() is not None:
                    raise RuntimeError(f"Spark {name} exited; see {work_dir / (name + '.log')}")
            return False

        wait_until(registered, timeout, f"a Spark worker to register (see {work_dir})", interval=1.0)
        yield cluster
    finally:
        for proc in (worker, master):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
