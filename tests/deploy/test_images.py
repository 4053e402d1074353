"""The images install exact, hash-checked versions (issue 19): every ``pip install`` in a Dockerfile
reads a lock file with ``--require-hashes`` (or installs the project alone with ``--no-deps``), the
locks pin every requirement with hashes, and they still cover what the code needs — the runtime
lock every dependency of pyproject.toml, the serving lock everything ``fraudstream.serving`` imports.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "infra" / "docker"
DOCKERFILES = {"serving": ROOT / "Dockerfile", "runtime": DOCKER / "flink.Dockerfile"}
LOCKS = {
    "serving": DOCKER / "serving.lock.txt",
    "runtime": DOCKER / "runtime.lock.txt",
    "build-tools": DOCKER / "build-tools.lock.txt",
}


def _pins(lock: Path) -> dict[str, str]:
    """name -> version of a ``uv pip compile --generate-hashes`` file; every pin must carry a hash."""
    pins: dict[str, str] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    for block in blocks:
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s\\;]+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{lock.name}: {match.group(1)} has no hash"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _pip_installs(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text().replace("\\\n", " ")
    return [m.group(0) for m in re.finditer(r"pip install[^&\n]*", text)]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_every_pip_install_is_locked_with_hashes(name: str):
    installs = _pip_installs(DOCKERFILES[name])
    assert installs
    for command in installs:
        locked = "--require-hashes" in command and " -r " in command
        project_only = "--no-deps" in command and "--no-build-isolation" in command
        assert locked or project_only, f"{DOCKERFILES[name].name}: unpinned `{command.strip()}`"


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_lock_files_pin_everything_with_hashes_and_say_how_to_regenerate(name: str):
    lock = LOCKS[name]
    assert _pins(lock), lock
    assert "uv pip compile" in lock.read_text().splitlines()[1]


def test_runtime_lock_satisfies_every_dependency_of_the_project():
    pins = _pins(LOCKS["runtime"])
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from runtime.lock.txt: regenerate it"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name], str(requirement))


def test_build_tools_lock_meets_the_build_floor():
    pins = _pins(LOCKS["build-tools"])
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(spec)
        assert requirement.specifier.contains(pins[canonicalize_name(requirement.name)]), spec


def _module_files(module: str) -> list[Path]:
    """The file of a module; a package's ``__init__.py`` (its submodules load only when imported)."""
    path = ROOT / "src" / Path(*module.split("."))
    return [path / "__init__.py"] if path.is_dir() else [path.with_suffix(".py")]


def _imports(file: Path, everywhere: bool) -> list[str]:
    """Imported names of a file: every import when ``everywhere``, else the module-level ones only
    (a function-level import elsewhere in the package runs only when that function does)."""
    tree = ast.parse(file.read_text())
    nodes = ast.walk(tree) if everywhere else _module_level(tree.body)
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return names


def _module_level(body: list[ast.stmt]):
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try):  # `try: import x` / `if TYPE_CHECKING:` at module level
            for block in (node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])):
                yield from _module_level(block)
            for handler in getattr(node, "handlers", []):
                yield from _module_level(handler.body)


def _fraudstream_imports(start: str) -> set[str]:
    """Top-level third-party names that serving ``start`` needs: every import of its own modules
    (lazy ones included: they run when it serves), module-level imports of the fraudstream modules
    those load, transitively."""
    package = ROOT / "src" / Path(*start.split("."))
    todo = [f"{start}.{f.stem}" for f in sorted(package.glob("*.py")) if f.name != "__init__.py"] + [start]
    seen: set[str] = set()
    third: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:n]) for n in range(2, len(parts))]  # parent packages run first
        for file in _module_files(module):
            if not file.is_file():
                continue
            for name in _imports(file, everywhere=module.startswith(start)):
                top = name.split(".")[0]
                if top == "fraudstream":
                    candidate = name.split(".")
                    while candidate and not _module_files(".".join(candidate))[0].is_file():
                        candidate = candidate[:-1]  # `from fraudstream.x import name`: the module is x
                    if len(candidate) > 1:
                        todo.append(".".join(candidate))
                elif top not in sys.stdlib_module_names and top != "__future__":
                    third.add(top)
    return third


def test_serving_lock_covers_what_the_serving_code_imports():
    """Every third-party package that ``fraudstream.serving`` (and the fraudstream modules it uses)
    imports, plus the server stack it starts, is pinned in the serving lock."""
    from importlib.metadata import packages_distributions

    imported = _fraudstream_imports("fraudstream.serving") | {"uvicorn", "uvloop", "httptools"}
    dists = packages_distributions()
    pins = set(_pins(LOCKS["serving"]))
    aliases = {"xgboost": "xgboost-cpu"}  # the image installs the CPU-only wheel of the same package
    missing = sorted(
        module
        for module in imported
        if not any(canonicalize_name(aliases.get(d, d)) in pins for d in dists.get(module, [module]))
    )
    assert missing == [], "add them to infra/docker/serving.in and regenerate serving.lock.txt"
