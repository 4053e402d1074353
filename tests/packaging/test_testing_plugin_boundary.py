"""The line between the package and its test plugins: ``fraudstream.testing`` may import pytest (it is
the pytest plugin and needs the ``dev`` extra); nothing else in the package may import it or pytest,
so an installation without the dev extra runs every command."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fraudstream"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_testing_plugins_import_pytest_or_them() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "testing"):
            continue
        bad = {n for n in _imports(path) if n.split(".")[0] == "pytest" or n.startswith("fraudstream.testing")}
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert offenders == {}


def test_the_boundary_check_sees_a_pytest_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom pytest import fixture\nfrom fraudstream.testing.engines import x\n")
    assert {"pytest", "fraudstream.testing.engines"} <= _imports(probe)
