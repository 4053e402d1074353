"""CLI commands: ``fraudstream featurestore create|describe|get CC_NUM``."""

from __future__ import annotations

import json

import typer

featurestore_app = typer.Typer(help="Online feature store (DynamoDB feature groups).", no_args_is_help=True)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: cannot reach DynamoDB: {type(exc).__name__}: {exc}", err=True)
    raise typer.Exit(1)


@featurestore_app.command("create")
def create() -> None:
    """Create the feature-group tables that do not exist yet (idempotent)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from fraudstream.featurestore.groups import ensure_tables
    from fraudstream.settings import get_settings

    try:
        created = ensure_tables(get_settings())
    except (BotoCoreError, ClientError) as exc:
        _fail(exc)
    typer.echo(f"created: {', '.join(created)}" if created else "all feature-group tables already exist")


@featurestore_app.command("describe")
def describe(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show each feature group: table, identifier, event time, features, status, cards and the batch version.

    The batch group's count leaves out its batch-version marker item (which is not a card).
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from rich.console import Console
    from rich.table import Table

    from fraudstream.featurestore.dynamodb_store import describe_feature_groups

    try:
        groups = describe_feature_groups()
    except (BotoCoreError, ClientError) as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(groups, indent=2))
        return
    table = Table("group", "table", "id", "event time", "features", "status", "cards")
    for g in groups:
        feats = "\n".join(f"{f['name']} ({f['type']})" for f in g["features"])
        table.add_row(
            g["group"],
            g["table"],
            g["record_identifier"],
            g["event_time_field"],
            feats,
            str(g["status"]),
            str(g["item_count"]),
        )
    console = Console()
    console.print(table)
    for g in groups:
        if "batch_version" not in g:
            continue
        marker = g["batch_version"]
        if marker is None:
            console.print(f"{g['table']}: no batch version marked yet")
        else:
            console.print(
                f"{g['table']}: batch version {marker.get('version')} ({marker.get('reason', '')}, "
                f"{marker.get('updated_at', '?')}); its marker item is not counted as a card"
            )


@featurestore_app.command("get")
def get(cc_num: str = typer.Argument(..., help="16-digit card number (or its token)")) -> None:
    """Print both groups' features for a card (JSON; null when the group has no item).

    With tokenisation on (FRAUDSTREAM_CC_TOKEN_KEY), the store is keyed by tokens: a card number is
    looked up by its token, which is what is printed (never the number); a token is used as is.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
    from fraudstream.tokenise import get_tokeniser

    if not (len(cc_num) == 16 and cc_num.isdigit()):
        typer.echo(f"error: card number must be 16 digits, got {cc_num!r}", err=True)
        raise typer.Exit(2)
    try:
        tokeniser = get_tokeniser()
    except ValueError as exc:  # a malformed key: say so rather than look up the wrong identifier
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    key = tokeniser(cc_num)
    try:
        found = DynamoFeatureStore().features_for(key)
    except (BotoCoreError, ClientError) as exc:
        _fail(exc)
    tokenised = {"tokenised": True} if tokeniser.enabled else {}
    typer.echo(json.dumps({"cc_num": key, **tokenised, **found}, indent=2))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(featurestore_app, name="featurestore")
