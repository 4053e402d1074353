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


for _name in COMMAND_MODULES:
    importlib.import_module(f"fraudstream.cli.{_name}").register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
