"""The Flink distribution shipped inside the PyFlink wheel (``bin/``, ``lib/``, ``conf/``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fraudstream.stack.errors import StackError


@lru_cache(maxsize=1)
def flink_home() -> Path:
    """The PyFlink package folder, which holds a complete Flink distribution."""
    import importlib.util

    spec = importlib.util.find_spec("pyflink")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("pyflink is not installed; run `make setup`")
    home = Path(next(iter(spec.submodule_search_locations)))
    if not (home / "bin" / "jobmanager.sh").exists() or not (home / "lib").is_dir():
        raise StackError(f"no Flink distribution in {home} (apache-flink-libraries missing); run `make setup`")
    return home


def flink_version() -> str:
    """The version of the distribution, read from its ``flink-dist`` jar name."""
    jars = sorted((flink_home() / "lib").glob("flink-dist-*.jar"))
    return jars[0].stem.removeprefix("flink-dist-") if jars else "unknown"
