"""CLI commands: ``fraudstream deploy package | up | down | status | retrain`` (AWS via CloudFormation).

Works against real AWS or any emulator given by ``AWS_ENDPOINT_URL`` (or ``--endpoint-url``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

deploy_app = typer.Typer(help="Deploy to AWS with CloudFormation (MSK, Managed Flink, Lambda, DynamoDB, SageMaker).")

DEFAULT_OUT = Path("build/deploy")


class RichUi:
    """Renders workflow steps, stack events and a progress bar with rich."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self._progress: Any = None
        self._task: Any = None
        self._total = 1
        self._done: set[str] = set()

    def step(self, message: str) -> None:
        self._stop()
        self.console.print(f"[bold cyan]▶[/] {_escape(message)}")

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {_escape(message)}")

    def listener(self, kind: str, value: Any) -> None:
        if kind == "package":
            self.console.print(f"  building {value}")
        elif kind == "upload":
            name, key, skipped = value
            self.console.print(f"  {name}: {key} " + ("[dim](already there)[/]" if skipped else "[green]uploaded[/]"))
        elif kind == "changes":
            self._start(int(value))
        elif kind == "event":
            self._event(value)
        elif kind == "status" and self._progress is not None:
            done = str(value).endswith("_COMPLETE")  # emulators may emit no per-resource events
            self._progress.update(self._task, description=str(value), **({"completed": self._total} if done else {}))
        elif kind == "status":
            self.console.print(f"  {value}")

    def _start(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._stop()
        self._done = set()
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=self.console,
        )  # fmt: skip
        self._progress.start()
        self._total = max(total, 1)
        self._task = self._progress.add_task("executing change set", total=self._total)

    def _event(self, event: Any) -> None:
        colour = "red" if "FAILED" in event.status else "green" if event.status.endswith("COMPLETE") else "dim"
        reason = f" — {_escape(event.reason)}" if event.reason and "FAILED" in event.status else ""
        line = f"  [{colour}]{event.status:<22}[/] {event.logical_id} [dim]{event.resource_type}[/]{reason}"
        self.console.print(line)
        finished = event.status.endswith("_COMPLETE") and event.resource_type != "AWS::CloudFormation::Stack"
        if self._progress is not None and finished and event.logical_id not in self._done:
            self._done.add(event.logical_id)
            self._progress.advance(self._task)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _escape(text: str) -> str:
    """Messages may contain ``[rule]`` brackets that rich would take for markup."""
    from rich.markup import escape

    return escape(text)


def _parse_params(values: list[str] | None) -> dict[str, str]:
    """``--params K=V`` (repeatable; one value may also hold several space-separated pairs)."""
    params: dict[str, str] = {}
    for value in values or []:
        for pair in value.split():
            key, sep, val = pair.partition("=")
            if not sep or not key:
                raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--params")
            params[key] = val
    return params


def _stack_name(value: str) -> str:
    """``--stack-name`` of ``up``: every physical name derives from it, so it is checked first."""
    from fraudstream.deploy.deployer import validate_stack_name

    try:
        return validate_stack_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _target(region: str, endpoint_url: str | None):
    from fraudstream.deploy.target import AwsTarget, resolve_endpoint_url

    return AwsTarget(region=region, endpoint_url=resolve_endpoint_url(endpoint_url))


def _print_outputs(ui: RichUi, title: str, outputs: dict[str, str]) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("output", style="bold")
    table.add_column("value")
    for key in sorted(outputs):
        table.add_row(key, outputs[key])
    ui.console.print(table)


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _fail(ui: RichUi, exc: Exception) -> None:
    ui._stop()
    ui.console.print(f"[red]error:[/] {_escape(str(exc))}")
    raise typer.Exit(1)


@deploy_app.command("package")
def package(
    out: Path = typer.Option(DEFAULT_OUT, help="Directory for the artifacts and manifest.json."),
    dependencies: bool = typer.Option(
        True, "--dependencies/--no-dependencies", help="Bundle Linux (manylinux2014_x86_64) wheels of the deps."
    ),
    model_dir: Path | None = typer.Option(None, help="Model registry (default: settings.model_dir)."),
    model_version: str = typer.Option("latest", help="Model version to package."),
    extra_jar: list[Path] | None = typer.Option(None, help="More jars for the Flink zip (e.g. aws-msk-iam-auth-all)."),
    pyspark_env: Path | None = typer.Option(
        None, help="The nightly job's environment archive (built by infra/emr/pyspark-env.Dockerfile)."
    ),
) -> None:
    """Build the handlers zip, the Flink application zip, the model tarball and the nightly job with
    its PySpark environment; print what was built."""
    from rich.table import Table

    from fraudstream.deploy.package import PackagingError, package_all

    ui = RichUi()
    try:
        manifest = package_all(
            out, with_dependencies=dependencies, model_dir=model_dir, model_version=model_version,
            extra_jars=extra_jar or (), pyspark_env=pyspark_env, step=lambda m: ui.step(f"building {m}"),
        )  # fmt: skip
    except PackagingError as exc:
        _fail(ui, exc)
    table = Table(title=f"artifacts in {out}")
    for column in ("artifact", "file", "size", "sha256", "details"):
        table.add_column(column)
    for name, art in sorted(manifest.artifacts.items()):
        details = ", ".join(f"{k}={v}" for k, v in art.details.items())
        table.add_row(name, art.path, f"{art.size / 1e6:.2f} MB", art.sha256[:12], details)
    ui.console.print(table)
    for warning in manifest.warnings:
        ui.warn(warning)


@deploy_app.command("up")
def up(
    stack_name: str = typer.Option(
        "fraudstream",
        callback=_stack_name,
        help="Main stack name (the bootstrap stack is <name>-artifacts): lower case, digits, hyphens, <= 40.",
    ),
    region: str = typer.Option("us-east-1", envvar="AWS_REGION", help="AWS region."),
    bucket: str = typer.Option(..., help="Artifact bucket (created by the bootstrap stack when missing)."),
    params: list[str] | None = typer.Option(None, help="Template parameter KEY=VALUE (repeatable)."),
    out: Path = typer.Option(DEFAULT_OUT, help="Package directory."),
    package: bool = typer.Option(True, "--package/--no-package", help="Rebuild the artifacts first."),
    dependencies: bool = typer.Option(True, "--dependencies/--no-dependencies", help="Bundle Linux wheels."),
    model_dir: Path | None = typer.Option(None, help="Model registry (default: settings.model_dir)."),
    extra_jar: list[Path] | None = typer.Option(None, help="More jars for the Flink zip."),
    start_flink: bool = typer.Option(True, "--start-flink/--no-start-flink", help="Start the Flink app after."),
    nightly: bool = typer.Option(
        True, "--nightly/--no-nightly", help="Also deploy <stack>-nightly (needs the nightly job and its environment)."
    ),
    pyspark_env: Path | None = typer.Option(None, help="The nightly job's environment archive (see `package`)."),
    endpoint_url: str | None = typer.Option(None, help="AWS API endpoint (default: $AWS_ENDPOINT_URL, else AWS)."),
    poll_seconds: float = typer.Option(5.0, help="Seconds between status polls."),
) -> None:
    """Package, upload, create or update the stacks through change sets, wait, print the outputs."""
    from fraudstream.deploy.cfn import DeployError
    from fraudstream.deploy.deployer import PreflightError, UpRequest, run_up
    from fraudstream.deploy.package import PackagingError

    ui = RichUi()
    target = _target(region, endpoint_url)
    ui.console.print(f"deploying [bold]{stack_name}[/] to {target.endpoint_url or 'AWS'} ({region})")
    request = UpRequest(
        stack_name=stack_name, bucket=bucket, target=target, params=_parse_params(params), out_dir=out,
        package=package, with_dependencies=dependencies, model_dir=model_dir, extra_jars=tuple(extra_jar or ()),
        start_flink=start_flink, nightly=nightly, pyspark_env=pyspark_env, poll_seconds=poll_seconds,
    )  # fmt: skip
    try:
        result = run_up(request, ui)
    except (DeployError, PreflightError, PackagingError, *_aws_errors()) as exc:
        _fail(ui, exc)
    ui._stop()
    ui.console.print(f"[green]{result.name}: {result.status}[/]" + ("" if result.changed else " (no changes)"))
    _print_outputs(ui, f"{stack_name} outputs", result.outputs)


@deploy_app.command("down")
def down(
    stack_name: str = typer.Option("fraudstream", help="Main stack name."),
    region: str = typer.Option("us-east-1", envvar="AWS_REGION", help="AWS region."),
    include_bootstrap: bool = typer.Option(
        False, "--all", help="Also delete the bootstrap stack (the bucket and ECR repository are retained)."
    ),
    endpoint_url: str | None = typer.Option(None, help="AWS API endpoint (default: $AWS_ENDPOINT_URL, else AWS)."),
    poll_seconds: float = typer.Option(5.0, help="Seconds between status polls."),
) -> None:
    """Delete the deployment's stacks (nightly, main; bootstrap with --all) and wait."""
    from fraudstream.deploy.cfn import DeployError
    from fraudstream.deploy.deployer import run_down

    ui = RichUi()
    try:
        deleted = run_down(stack_name, _target(region, endpoint_url), ui, include_bootstrap, poll_seconds)
    except (DeployError, *_aws_errors()) as exc:
        _fail(ui, exc)
    ui.console.print(f"deleted: {', '.join(deleted) or 'nothing'}")


@deploy_app.command("status")
def status(
    stack_name: str = typer.Option("fraudstream", help="Main stack name."),
    region: str = typer.Option("us-east-1", envvar="AWS_REGION", help="AWS region."),
    endpoint_url: str | None = typer.Option(None, help="AWS API endpoint (default: $AWS_ENDPOINT_URL, else AWS)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Stack status, outputs and the Flink application's state."""
    from fraudstream.deploy.deployer import run_status

    ui = RichUi()
    try:
        info = run_status(stack_name, _target(region, endpoint_url))
    except _aws_errors() as exc:
        _fail(ui, exc)
    if info is None:
        ui.console.print(f"stack {stack_name} does not exist")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    ui.console.print(f"[bold]{stack_name}[/]: {info['status']} {info['reason']}")
    if "flink" in info:
        ui.console.print(f"Flink application: {info['flink']}")
    _print_outputs(ui, f"{stack_name} outputs", info["outputs"])


@deploy_app.command("retrain")
def retrain(
    stack_name: str = typer.Option("fraudstream", help="Main stack name (its -nightly stack runs the jobs)."),
    region: str = typer.Option("us-east-1", envvar="AWS_REGION", help="AWS region."),
    image_tag: str = typer.Option("", help="Tag of the runtime image in <stack>-runtime (ECR), run by the job."),
    training: str | None = typer.Option(None, help="s3:// training set to use (skips the EMR Serverless build)."),
    from_date: str | None = typer.Option(None, "--from", help="First day of the training set (YYYY-MM-DD)."),
    to_date: str | None = typer.Option(None, "--to", help="Last day of the training set (YYYY-MM-DD)."),
    instance_type: str = typer.Option("ml.m5.2xlarge", help="Processing instance of the training job."),
    setting: list[str] = typer.Option([], "--set", help="Training setting for the candidate: max_rounds=500."),
    min_pr_auc_gain: float | None = typer.Option(None, help="PR-AUC gain the candidate needs (default 0)."),
    apply: str | None = typer.Option(None, help="Only promote: s3://…/retrain/<run>/ of a finished job."),
    endpoint_url: str | None = typer.Option(None, help="AWS API endpoint (default: $AWS_ENDPOINT_URL, else AWS)."),
    poll_seconds: float = typer.Option(30.0, help="Seconds between status polls."),
) -> None:
    """Build the training set from the lake, train a candidate, compare it with the served model on
    the same rows, and roll the endpoint to it only if it wins (see docs/aws-batch.md)."""
    from fraudstream.deploy.cfn import DeployError
    from fraudstream.deploy.retrain import RetrainError, RetrainRequest, run_retrain

    args = tuple(a for s in setting for a in ("--set", s))
    args += ("--min-pr-auc-gain", str(min_pr_auc_gain)) if min_pr_auc_gain is not None else ()
    request = RetrainRequest(
        stack_name=stack_name, target=_target(region, endpoint_url), image_tag=image_tag, training_uri=training,
        from_date=from_date, to_date=to_date, instance_type=instance_type, retrain_args=args, apply_uri=apply,
        poll_seconds=poll_seconds,
    )  # fmt: skip
    ui = RichUi()
    try:
        result = run_retrain(request, ui)
    except (RetrainError, DeployError, *_aws_errors()) as exc:
        _fail(ui, exc)
    decision = result["decision"]
    verdict = "promoted" if result["promoted"] else "kept the current model"
    ui.console.print(f"[green]{verdict}[/]: {_escape(decision['reason'])} (results: {result['out']})")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(deploy_app, name="deploy")
