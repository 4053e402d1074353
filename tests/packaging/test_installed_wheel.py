"""The built wheel stands on its own: installed into a fresh virtualenv outside the checkout, its CLI
runs, and the job's SQL is generated (which compiles the Java window function from the package data).

Nothing is downloaded: the wheel is built without build isolation, installed with ``--no-deps``, and
the fresh virtualenv sees the project virtualenv's third-party packages through a ``.pth`` line
(written after the install, so pip never sees the project's own editable install there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("pyproject.toml", "README.md", "src")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{output}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the project's settings or a Python path into the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDSTREAM_") and k != "PYTHONPATH"}
    return {**env, **extra}


def _build_wheel(work: Path) -> Path:
    """``pip wheel --no-deps`` of a copy of the project (setuptools writes ``build/`` next to the sources)."""
    source = work / "source"
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / name)
    # checkov pins packaging<24 in the dev environment; setuptools' own vendored copy reads SPDX licenses
    vendored = str(Path(setuptools.__file__).parent / "_vendor")
    cmd = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*cmd, "-w", str(work / "dist"), "-q"], source, _clean_env(PYTHONPATH=vendored))
    [wheel] = (work / "dist").glob("fraudstream-*.whl")
    return wheel


def _fresh_venv(work: Path, wheel: Path) -> Path:
    """A virtualenv with the wheel installed, then the project venv's site-packages on its path."""
    venv = work / "venv"
    _run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], work, _clean_env())
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         work, _clean_env())  # fmt: skip
    site = subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    (Path(site.decode().strip()) / "project-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    return _fresh_venv(work, _build_wheel(work))


def test_wheel_ships_the_java_function_and_the_dashboard(installed: Path) -> None:
    probe = (
        "import fraudstream, pathlib; p = pathlib.Path(fraudstream.__file__).parent; print(p); "
        "print((p / 'streaming/java/fraudstream/flink/CardWindow.java').is_file(), "
        "(p / 'monitor/dashboard.html').is_file())"
    )
    out = _run([str(installed / "bin" / "python"), "-c", probe], installed.parent, _clean_env()).stdout.split()
    assert Path(out[0]).is_relative_to(installed), f"imported from {out[0]}, not the fresh venv"
    assert out[1:] == ["True", "True"]


def test_cli_runs_from_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = _clean_env(FRAUDSTREAM_STATE_DIR=str(tmp_path / "state"))
    cli = str(installed / "bin" / "fraudstream")
    assert "flink" in _run([cli, "--help"], tmp_path, env).stdout
    script = _run([cli, "flink", "sql"], tmp_path, env).stdout
    assert "EXECUTE STATEMENT SET" in script and "'topic' = 'transactions'" in script
    assert list((tmp_path / "state" / "flink-udf").glob("*.jar")), "the Java function was not built from package data"
    module = [str(installed / "bin" / "python"), "-m", "fraudstream.streaming.job_main", "--print-sql"]
    assert _run([*module, "--set", "topic_agg=agg-x"], tmp_path, env).stdout.count("'topic' = 'agg-x'") == 1
