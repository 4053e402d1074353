"""Deploy-test fixtures: moto in server mode as a real local process, and a tiny model registry."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO_LAUNCHER = Path(__file__).with_name("moto_server.py")
PROJECT_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto server process on a free port (stopped, by its pid, at the end of the session)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(MOTO_LAUNCHER), str(port)], stdout=out, stderr=out, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def deploy_env(moto_endpoint: str) -> dict[str, str]:
    """Environment of a CLI process that talks to the emulator, never to AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FRAUDSTREAM_"))}
    env.update(
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        FRAUDSTREAM_PROJECT_DIR=str(PROJECT_DIR),  # the CLI runs in a scratch folder: the checkout is named
        NO_COLOR="1",
        COLUMNS="200",
    )
    return env


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with one version and ``latest`` pointing at it (the packaging needs files, not a
    trained booster: the tarball is the same whatever the booster holds)."""
    root = tmp_path_factory.mktemp("models")
    version = root / "20200101T000000-anchor"
    version.mkdir()
    metadata = {
        "version": version.name,
        "feature_set": "anchor",
        "feature_names": ["amount", "amt_ratio1", "amt_ratio2", "count_ratio"],
        "threshold": 0.81,
        "threshold_rule": "test",
        "training_window": {},
        "data_hash": "0" * 16,
        "created_at": "2020-01-01T00:00:00Z",
    }
    (version / "metadata.json").write_text(json.dumps(metadata))
    (version / "model.ubj").write_bytes(b"booster-bytes")
    (root / "latest").symlink_to(version.name, target_is_directory=True)
    return root
