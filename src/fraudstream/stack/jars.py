"""Where the JVM components fetched by ``make setup`` live, and the Java runtime that runs them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fraudstream.stack.errors import StackError

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPONENTS = ("kafka", "flink", "dynamodb", "launchers")
FETCH_HINT = "run `make setup` to fetch it"


def infra_dir() -> Path:
    """The repository's ``infra/`` folder (config templates, the Maven manifest)."""
    return REPO_ROOT / "infra"


def jvm_lib_dir() -> Path:
    """``infra/jvm/lib`` (override with ``FRAUDSTREAM_JVM_LIB_DIR``)."""
    override = os.environ.get("FRAUDSTREAM_JVM_LIB_DIR")
    return Path(override) if override else infra_dir() / "jvm" / "lib"


def component_dir(component: str) -> Path:
    """The folder of one fetched component; a clear error when it was not fetched."""
    path = jvm_lib_dir() / component
    if not path.is_dir() or not any(path.iterdir()):
        raise StackError(f"{component} is not fetched ({path} is missing); {FETCH_HINT}")
    return path


def component_classpath(component: str) -> str:
    """A ``-cp`` value with every jar of the component."""
    return f"{component_dir(component)}/*"


def kafka_connector_jar() -> Path:
    """The Flink Kafka SQL connector jar (shaded), for the cluster's classpath or ``pipeline.jars``."""
    jars = sorted(component_dir("flink").glob("flink-sql-connector-kafka*.jar"))
    if not jars:
        raise StackError(f"the Flink Kafka SQL connector is not fetched; {FETCH_HINT}")
    return jars[0]


def java_executable() -> str:
    """The ``java`` to run the engines with: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise StackError("java not found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME")
    return found
