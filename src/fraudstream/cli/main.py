"""Entry point of the ``fraudstream`` CLI: each command group lives in its own module.

Every module exposes ``register(app)``; heavy libraries (pyspark, pyflink, xgboost) are imported
inside the commands so that ``fraudstream --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="fraudstream",
    help="Real-time credit-card fraud pipeline: generate, stream, aggregate, store, score, train, deploy.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

COMMAND_MODULES = (
    "stack",
    "generate",
    "produce",
    "flink",
    "clock",
    "featurestore",
    "handlers",
    "batch",
    "lake",
    "train",
    "serve",
    "replay",
    "demo",
    "monitor",
    "deploy",
)


@app.command()
def version() -> None:
    """Print the fraudstream version."""
    from fraudstream import __version__

    typer.echo(__version__)


def plain_help(typer_app: typer.Typer) -> None:
    """Render the help of ``typer_app`` and of every sub-app as plain text, markup off.

    Why: with rich markup on, a ``[...]`` in a help string is read as a markup tag, so
    ``[/opt/ml/model ...]`` crashed ``--help`` and ``[settings: models/]`` silently vanished. Help
    strings here are plain prose; the walk covers every group, so a new module needs nothing.
    """
    typer_app.rich_markup_mode = None
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            plain_help(group.typer_instance)


for _name in COMMAND_MODULES:
    importlib.import_module(f"fraudstream.cli.{_name}").register(app)
plain_help(app)


if __name__ == "__main__":  # pragma: no cover
    app()
