"""CLI commands: ``train`` (XGBoost per feature set) and ``models list|show|promote`` (the registry)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fraudstream.model.threshold import RULES_HELP
from fraudstream.model.training import TrainingConfig  # numpy only: keeps `--help` fast

FEATURE_SETS_HELP = (
    "Feature set to train (repeatable): anchor (4 inputs), extended (6), merchant-risk (nightly card and "
    "merchant windows; the scorer reads them by card and by the transaction's merchant), merchant-risk-v2 "
    "(+ known-fraud counts), merchant-risk-v3 (+ distinct cards and episode of the known frauds), "
    "merchant-risk-v4 (+ the card's 30-day amount deviation and maximum, the amount's z-score and max ratio)."
)


def _model_dir(model_dir: Path | None) -> Path:
    if model_dir is not None:
        return model_dir
    from fraudstream.settings import get_settings

    return get_settings().model_dir


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""

    @app.command("train")
    def train(
        training_set: Path = typer.Option(
            ...,
            "--training-set",
            "--input",
            "-i",
            help="The batch job's Parquet directory, or one Parquet or CSV file (pandas-written is fine).",
        ),
        model_dir: Path | None = typer.Option(None, "--model-dir", help="Registry directory [settings: models/]."),
        feature_set: list[str] = typer.Option(["anchor", "extended"], "--feature-set", help=FEATURE_SETS_HELP),
        latest: str | None = typer.Option(
            None, "--latest", help="Feature set that `latest` serves [best test PR-AUC; a tie: fewer inputs]."
        ),
        train_start: str | None = typer.Option(None, help="Train period start [2020-01-15]."),
        validation_start: str | None = typer.Option(None, help="Validation start [2020-05-01]."),
        test_start: str | None = typer.Option(None, help="Test period start [2020-05-15]."),
        test_end: str | None = typer.Option(None, help="Test period end [end of data]."),
        gap_days: float = typer.Option(
            0.0, help="Days dropped before validation and before test: the label delay (7 for late chargebacks)."
        ),
        imbalance: str = typer.Option("sqrt", help="scale_pos_weight: none | sqrt | balanced."),
        threshold_rule: str = typer.Option(
            TrainingConfig.threshold_rule, help=f"On validation: {RULES_HELP}; bootstrap spread in the report."
        ),
        seed: int = typer.Option(42),
        max_rounds: int = typer.Option(TrainingConfig.max_rounds),
        learning_rate: float = typer.Option(TrainingConfig.learning_rate),
        max_depth: int = typer.Option(TrainingConfig.max_depth),
        nthread: int = typer.Option(0, help="XGBoost threads (0 = all cores; 1 on a busy machine)."),
    ) -> None:
        """Train one model per feature set, evaluate it on the test period and register it."""
        from rich.console import Console

        from fraudstream.model.dataset import TimeSplit
        from fraudstream.model.pipeline import train_feature_sets
        from fraudstream.model.training import TrainingConfig

        console = Console()
        split = None
        try:
            if any(v is not None for v in (train_start, validation_start, test_start, test_end)):
                default = TimeSplit()
                split = TimeSplit(
                    train_start or default.train_start,
                    validation_start or default.validation_start,
                    test_start or default.test_start,
                    test_end,
                    gap_days,
                )
            config = TrainingConfig(
                seed=seed,
                imbalance=imbalance,
                threshold_rule=threshold_rule,
                max_rounds=max_rounds,
                learning_rate=learning_rate,
                max_depth=max_depth,
                nthread=nthread,
            )
            metas = train_feature_sets(
                training_set, _model_dir(model_dir), feature_set, config, split, latest, console, gap_days
            )
        except (FileNotFoundError, ValueError, KeyError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        for meta in metas:
            console.print(
                f"registered [bold]{meta.version}[/]: test PR-AUC {meta.metrics['test_pr_auc']:.4f}, "
                f"threshold {meta.threshold:.4f} ({meta.threshold_rule})"
            )
        from fraudstream.model.registry import latest_version

        console.print(f"latest -> {latest_version(_model_dir(model_dir))}")

    models = typer.Typer(help="The model registry: list, show, promote.", no_args_is_help=True)

    @models.command("list")
    def list_models(model_dir: Path | None = typer.Option(None, "--model-dir")) -> None:
        """All versions, oldest first; * marks the one `latest` points at."""
        from rich.console import Console
        from rich.table import Table

        from fraudstream.model.registry import latest_version, list_versions

        directory = _model_dir(model_dir)
        current = latest_version(directory)
        table = Table(title=f"models in {directory}")
        columns = (
            "",
            "version",
            "feature set",
            "threshold (rule)",
            "test PR-AUC",
            "recall@thr",
            "card P@100",
            "created",
        )
        for col in columns:
            table.add_column(col, no_wrap=col == "version")
        for m in list_versions(directory):
            table.add_row(
                "*" if m.version == current else "",
                m.version,
                m.feature_set,
                f"{m.threshold:.4f} ({m.threshold_rule})",
                f"{m.metrics.get('test_pr_auc', float('nan')):.4f}",
                f"{m.metrics.get('test_recall_at_threshold', float('nan')):.3f}",
                f"{m.metrics.get('test_card_precision_at_100', float('nan')):.3f}",
                m.created_at[:16].replace("T", " "),
            )
        Console().print(table)

    @models.command("show")
    def show_model(
        version: str = typer.Argument("latest"),
        model_dir: Path | None = typer.Option(None, "--model-dir"),
        as_json: bool = typer.Option(False, "--json", help="Print metadata and report as JSON."),
    ) -> None:
        """Metadata and test-period report of one version."""
        from rich.console import Console

        from fraudstream.model.evaluation import report_table
        from fraudstream.model.registry import ModelNotFoundError, load_metadata, load_report, resolve_version_dir

        directory = _model_dir(model_dir)
        try:
            meta = load_metadata(directory, version)
        except ModelNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        report = load_report(directory, meta.version)
        if as_json:
            typer.echo(json.dumps({"metadata": json.loads(meta.model_dump_json()), "report": report}, indent=2))
            return
        console = Console()
        console.print_json(meta.model_dump_json())
        if report:
            console.print(report_table(report, f"{meta.version}: test period"))
        console.print(f"files: {resolve_version_dir(directory, meta.version)}")

    @models.command("promote")
    def promote(version: str, model_dir: Path | None = typer.Option(None, "--model-dir")) -> None:
        """Point `latest` (what `serve` and the pipeline use) at VERSION."""
        from fraudstream.model.registry import ModelNotFoundError, set_latest

        try:
            set_latest(_model_dir(model_dir), version)
        except ModelNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"latest -> {version}")

    app.add_typer(models, name="models")
