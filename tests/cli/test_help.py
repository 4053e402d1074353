"""``--help`` works for every command and sub-command, and shows each option's help and default in full.

Why: help strings hold ``[...]`` (``[settings: models/]``, ``[/opt/ml/model ...]``); read as rich
markup they crashed ``--help`` or vanished. The walk covers the whole command tree, so a new
command is checked without being listed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fraudstream.cli.main import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command below ``command`` by its path (typer's click objects, duck-typed: typer vendors click)."""
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(_commands(ROOT))


def _flat(text: str) -> str:
    """Without whitespace: the help is wrapped, at spaces and after hyphens."""
    return "".join(text.split())


def _shows_default(option: Any) -> bool:
    """Options whose default the help must show: a value (not None, not empty), not hidden."""
    if option.hidden or option.show_default is False or option.default in (None, (), []):
        return False
    return not (option.is_flag and not option.secondary_opts)  # a plain on-flag has nothing to show


def test_the_walk_finds_every_command_group() -> None:
    groups = {path[0] for path in COMMANDS if path}
    assert {"stack", "flink", "featurestore", "batch", "train", "serve", "deploy", "demo"} <= groups
    assert len(COMMANDS) > 30


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda p: " ".join(p) or "fraudstream")
def test_help_exits_zero_and_shows_help_and_defaults(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    command = COMMANDS[path]
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        if param.help:
            assert _flat(param.help) in shown, (param.name, param.help)
        if _shows_default(param):
            assert "default:" in shown.split(param.opts[0], 1)[1], (param.name, param.default)
