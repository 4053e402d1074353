"""pytest fixtures: a model trained on the batch training set of the small generated data, and a
real ``fraudstream serve`` (uvicorn) process serving it on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fraudstream.waiting import wait_until

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SMALL_TRAINING_ROUNDS = 300


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def model_training_set_path(
    spark: SparkSession, small_transactions_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The batch engineer's training set (``build_training_set``) of ``small_transactions_path``."""
    from fraudstream.batch.training_set import build_training_set

    out = tmp_path_factory.mktemp("model-training-set") / "training_set"
    build_training_set(spark, str(small_transactions_path), str(out))
    return out


@pytest.fixture(scope="session")
def trained_model_dir(model_training_set_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with an ``anchor`` and an ``extended`` model (``latest`` → extended), both evaluated on
    the last quarter of the small data (a proportional split: the data does not span the anchor's dates)."""
    from fraudstream.model.pipeline import train_feature_sets
    from fraudstream.model.training import TrainingConfig

    model_dir = tmp_path_factory.mktemp("models")
    train_feature_sets(
        model_training_set_path,
        model_dir,
        ("anchor", "extended"),
        TrainingConfig(max_rounds=SMALL_TRAINING_ROUNDS, nthread=1),  # 1 thread: OpenMP spins badly on busy cores
        latest="extended",  # the tests serve the 6-input set, whichever wins on this small test period
    )
    return model_dir


def wait_for_ping(url: str, process: subprocess.Popen | None, log: Path | None, timeout: float = 90.0) -> None:
    """Poll ``/ping`` until 200; fail early (with the server log) if the process dies."""
    import httpx

    def answers() -> bool:
        if process is not None and process.poll() is not None:
            output = log.read_text() if log and log.exists() else ""
            raise RuntimeError(f"endpoint exited with {process.returncode}:\n{output[-3000:]}")
        try:
            return httpx.get(f"{url}/ping", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, f"endpoint {url} to answer /ping")


def start_endpoint(
    model_dir: Path, log: Path, version: str = "latest", port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Start ``fraudstream serve`` as its own process; returns it and its base URL once /ping answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "fraudstream.cli.main", "serve", "--model-dir", str(model_dir), "--model", version]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_ping(url, process, log)
    except BaseException:
        stop_endpoint(process)
        raise
    return process, url


def stop_endpoint(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def endpoint_url(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real uvicorn endpoint serving ``trained_model_dir``'s latest model."""
    log = tmp_path_factory.mktemp("endpoint") / "serve.log"
    process, url = start_endpoint(trained_model_dir, log)
    try:
        yield url
    finally:
        stop_endpoint(process)
