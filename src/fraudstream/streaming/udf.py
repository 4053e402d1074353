"""The Java side of the cc-agg job: the ``CardWindow`` process table function, built on demand.

Why Java: Flink's built-in OVER window cannot give per-card event-time semantics (see the class
comment in ``java/fraudstream/flink/CardWindow.java``), and a Python function would put a Python
worker on the hot path of every transaction. The source ships inside this package; it is compiled
with ``javac`` against the jars of the PyFlink distribution itself, so the function always matches
the Flink it runs on, with no download. The jar is cached by a hash of the source and the Flink
version, and rebuilt when either changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from fraudstream.settings import Settings, get_settings
from fraudstream.stack.errors import StackError

JAVA_ROOT = Path(__file__).resolve().parent / "java"
SOURCES = (JAVA_ROOT / "fraudstream" / "flink" / "CardWindow.java",)
FUNCTION_CLASS = "fraudstream.flink.CardWindow"
FUNCTION_NAME = "card_window"


def flink_lib_dir() -> Path:
    from fraudstream.stack.flink_dist import flink_home

    return flink_home() / "lib"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.read_bytes())
    digest.update(" ".join(sorted(p.name for p in flink_lib_dir().glob("*.jar"))).encode())
    return digest.hexdigest()[:12]


def build_jar(out: Path) -> Path:
    """Compile the sources against PyFlink's jars into ``out`` (atomically); returns ``out``."""
    from fraudstream.stack.jars import java_executable

    bin_dir = Path(java_executable()).resolve().parent  # the JDK the stack runs its engines with
    javac, jar_tool = bin_dir / "javac", bin_dir / "jar"
    if not javac.exists() or not jar_tool.exists():
        raise StackError("javac not found: the cc-agg job's Java function needs a JDK 17+ (not only a JRE)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fraudstream-udf-") as tmp:
        classes = Path(tmp) / "classes"
        cmd = [str(javac), "-nowarn", "--release", "17", "-cp", f"{flink_lib_dir()}/*", "-d", str(classes)]
        proc = subprocess.run([*cmd, *map(str, SOURCES)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"compiling the Flink function failed:\n{proc.stderr[-3000:]}")
        staged = Path(tmp) / out.name
        proc = subprocess.run(
            [str(jar_tool), "cf", str(staged), "-C", str(classes), "."], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise StackError(f"packaging the Flink function failed:\n{proc.stderr[-3000:]}")
        shutil.move(str(staged), out)
    return out


def card_window_jar(settings: Settings | None = None) -> Path:
    """The jar with ``CardWindow``: ``FRAUDSTREAM_FLINK_UDF_JAR`` when set, else built into the state dir."""
    settings = settings or get_settings()
    if settings.flink_udf_jar is not None:
        if not settings.flink_udf_jar.is_file():
            raise StackError(f"FRAUDSTREAM_FLINK_UDF_JAR={settings.flink_udf_jar} is not a file")
        return settings.flink_udf_jar
    path = settings.state_dir.resolve() / "flink-udf" / f"fraudstream-flink-udf-{_fingerprint()}.jar"
    return path if path.is_file() else build_jar(path)
