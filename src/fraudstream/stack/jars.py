"""Where the JVM components fetched by ``make setup`` live, and the Java runtime that runs them.

Both come from the settings (``FRAUDSTREAM_PROJECT_DIR`` / ``FRAUDSTREAM_JVM_LIB_DIR``, ``JAVA_HOME``),
never from where this file is: an installed package is not inside the checkout that fetched the jars.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fraudstream.settings import Settings, get_settings
from fraudstream.stack.errors import StackError

COMPONENTS = ("kafka", "flink", "dynamodb", "launchers")
FETCH_HINT = "run `make setup` to fetch it (or set FRAUDSTREAM_PROJECT_DIR to the checkout that did)"


def infra_dir(settings: Settings | None = None) -> Path:
    """The checkout's ``infra/`` folder (engine config templates, the Maven manifest)."""
    return (settings or get_settings()).project_dir / "infra"


def jvm_lib_dir(settings: Settings | None = None) -> Path:
    """``infra/jvm/lib`` of the checkout, or ``FRAUDSTREAM_JVM_LIB_DIR``."""
    settings = settings or get_settings()
    return settings.jvm_lib_dir or infra_dir(settings) / "jvm" / "lib"


def component_dir(component: str, settings: Settings | None = None) -> Path:
    """The folder of one fetched component; a clear error when it was not fetched."""
    path = jvm_lib_dir(settings) / component
    if not path.is_dir() or not any(path.iterdir()):
        raise StackError(f"{component} is not fetched ({path} is missing); {FETCH_HINT}")
    return path


def component_classpath(component: str, settings: Settings | None = None) -> str:
    """A ``-cp`` value with every jar of the component."""
    return f"{component_dir(component, settings)}/*"


def kafka_connector_jar(settings: Settings | None = None) -> Path:
    """The Flink Kafka SQL connector jar (shaded), for the cluster's classpath or ``pipeline.jars``:
    ``FRAUDSTREAM_KAFKA_CONNECTOR_JAR`` when set (images ship one), else the one ``make setup`` fetched."""
    settings = settings or get_settings()
    if settings.kafka_connector_jar is not None:
        if not settings.kafka_connector_jar.is_file():
            raise StackError(f"FRAUDSTREAM_KAFKA_CONNECTOR_JAR={settings.kafka_connector_jar} is not a file")
        return settings.kafka_connector_jar
    jars = sorted(component_dir("flink", settings).glob("flink-sql-connector-kafka*.jar"))
    if not jars:
        raise StackError(f"the Flink Kafka SQL connector is not fetched; {FETCH_HINT}")
    return jars[0]


def java_executable(settings: Settings | None = None) -> str:
    """The ``java`` to run the engines with: ``$JAVA_HOME/bin/java`` or the one on PATH."""
    java_home = (settings or get_settings()).java_home
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise StackError("java not found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME")
    return found
