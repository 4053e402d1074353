"""The ``deploy up / down / status`` workflows: check → package → bootstrap → upload → stack → start.

The CLI only renders; every step lives here so that tests drive the same code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fraudstream.deploy import cfn
from fraudstream.deploy.package import FLINK_ZIP, LAMBDA_ZIP, MODEL_TARBALL, REPO_ROOT, PackageManifest, package_all
from fraudstream.deploy.target import AwsTarget
from fraudstream.deploy.upload import template_source, upload_artifacts

MAIN_TEMPLATE = "fraudstream.yaml"
BOOTSTRAP_TEMPLATE = "artifacts.yaml"


class Ui(Protocol):
    """What the workflows report; the CLI renders it with rich, tests may collect it."""

    def step(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def listener(self, kind: str, value: Any) -> None: ...


def templates_dir() -> Path:
    """``infra/cloudformation`` of the repository (override: ``FRAUDSTREAM_CFN_DIR``)."""
    override = os.environ.get("FRAUDSTREAM_CFN_DIR")
    return Path(override) if override else REPO_ROOT / "infra" / "cloudformation"


def parameter_defaults(path: Path) -> dict[str, str]:
    """A template's parameter defaults as CloudFormation reports values (strings)."""
    from fraudstream.deploy.policy import load_template

    params = load_template(path).get("Parameters") or {}
    return {name: str(spec["Default"]) for name, spec in params.items() if "Default" in spec}


def bootstrap_stack_name(stack_name: str) -> str:
    return f"{stack_name}-artifacts"


@dataclass
class UpRequest:
    """Everything ``deploy up`` needs."""

    stack_name: str
    bucket: str
    target: AwsTarget
    params: dict[str, str] = field(default_factory=dict)
    out_dir: Path = Path("build/deploy")
    package: bool = True
    with_dependencies: bool = True
    model_dir: Path | None = None
    extra_jars: tuple[Path, ...] = ()
    start_flink: bool = True
    poll_seconds: float = 5.0


class PreflightError(RuntimeError):
    """A check before any change failed (policy violation, missing artifact or image)."""


def check_templates() -> None:
    """Refuse to deploy a template that breaks the least-privilege / encryption rules."""
    from fraudstream.deploy.policy import check_file

    problems = [f"{path.name}: {v}" for path in sorted(templates_dir().glob("*.yaml")) for v in check_file(path)]
    if problems:
        raise PreflightError("templates break the deploy policy:\n  " + "\n  ".join(problems))


def run_up(req: UpRequest, ui: Ui) -> cfn.StackResult:
    """Deploy (create or update) the whole system and return the main stack's outputs."""
    ui.step("checking templates against the deploy policy")
    check_templates()

    manifest = _manifest(req, ui)
    for warning in manifest.warnings:
        ui.warn(warning)
    if MODEL_TARBALL not in manifest.artifacts and "ModelDataKey" not in req.params:
        raise PreflightError("no model tarball: train a model (`fraudstream train`) or pass --params ModelDataKey=...")

    cloudformation = req.target.client("cloudformation")
    s3 = req.target.client("s3")
    ui.step(f"bootstrap stack {bootstrap_stack_name(req.stack_name)} (bucket {req.bucket}, ECR repository)")
    boot = cfn.deploy_stack(
        cloudformation,
        bootstrap_stack_name(req.stack_name),
        {"TemplateBody": (templates_dir() / BOOTSTRAP_TEMPLATE).read_text()},
        _bootstrap_params(cloudformation, s3, req),
        listener=ui.listener,
        poll_seconds=req.poll_seconds,
        defaults=parameter_defaults(templates_dir() / BOOTSTRAP_TEMPLATE),
    )

    ui.step(f"uploading artifacts to s3://{req.bucket}")
    keys = upload_artifacts(s3, req.bucket, manifest, on_upload=lambda *uploaded: ui.listener("upload", uploaded))
    _check_serving_image(req, boot.outputs, ui)

    params = {
        "ArtifactBucket": req.bucket,
        "LambdaCodeKey": keys[LAMBDA_ZIP],
        "FlinkCodeKey": keys[FLINK_ZIP],
        "ServingRepositoryName": serving_repository(req),
    }
    if MODEL_TARBALL in keys:
        params["ModelDataKey"] = keys[MODEL_TARBALL]
    if manifest.model.get("feature_set"):
        params["ModelFeatureSet"] = manifest.model["feature_set"]
    params.update(req.params)

    ui.step(f"stack {req.stack_name}: change set, execute, wait")
    main_template = templates_dir() / MAIN_TEMPLATE
    template = template_source(s3, req.bucket, main_template, req.target.region, req.target.endpoint_url)
    result = cfn.deploy_stack(
        cloudformation, req.stack_name, template, params, listener=ui.listener, poll_seconds=req.poll_seconds,
        tags={"project": "fraudstream"}, defaults=parameter_defaults(main_template),
    )  # fmt: skip
    app = result.outputs.get("FlinkApplicationName")
    if app and req.start_flink:
        _start_flink(req.target, app, ui)
    return result


def run_down(stack_name: str, target: AwsTarget, ui: Ui, include_bootstrap: bool = False, poll_seconds: float = 5.0):
    """Delete the main stack (and the bootstrap stack when asked; the bucket and ECR repo are retained)."""
    cloudformation = target.client("cloudformation")
    names = [stack_name] + ([bootstrap_stack_name(stack_name)] if include_bootstrap else [])
    deleted = []
    for name in names:
        ui.step(f"deleting stack {name}")
        if cfn.delete_stack(cloudformation, name, listener=ui.listener, poll_seconds=poll_seconds):
            deleted.append(name)
        else:
            ui.warn(f"stack {name} does not exist")
    return deleted


def run_status(stack_name: str, target: AwsTarget) -> dict[str, Any] | None:
    """Status, outputs and the Flink application's state of a deployment; None when absent."""
    stack = cfn.describe_stack(target.client("cloudformation"), stack_name)
    if stack is None:
        return None
    outputs = cfn.outputs_of(stack)
    status: dict[str, Any] = {
        "stack": stack_name,
        "status": stack["StackStatus"],
        "reason": stack.get("StackStatusReason", ""),
        "outputs": outputs,
        "parameters": {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
    }
    if outputs.get("FlinkApplicationName"):
        try:
            detail = target.client("kinesisanalyticsv2").describe_application(
                ApplicationName=outputs["FlinkApplicationName"]
            )["ApplicationDetail"]
            status["flink"] = detail["ApplicationStatus"]
        except Exception as exc:  # status is informational: report, do not fail
            status["flink"] = f"unknown ({exc.__class__.__name__})"
    return status


# ----------------------------------------------------------------------------- steps


def _manifest(req: UpRequest, ui: Ui) -> PackageManifest:
    if not req.package and (req.out_dir / "manifest.json").is_file():
        ui.step(f"using the packages in {req.out_dir}")
        return PackageManifest.read(req.out_dir)
    scope = "" if req.with_dependencies else " (project code only, no dependencies)"
    ui.step(f"packaging into {req.out_dir}{scope}")
    return package_all(
        req.out_dir,
        with_dependencies=req.with_dependencies,
        model_dir=req.model_dir,
        extra_jars=req.extra_jars,
        step=lambda m: ui.listener("package", m),
    )


def _bootstrap_params(cloudformation: Any, s3: Any, req: UpRequest) -> dict[str, str]:
    """Create the bucket in the bootstrap stack unless it already exists outside that stack."""
    boot = cfn.describe_stack(cloudformation, bootstrap_stack_name(req.stack_name))
    previous = {p["ParameterKey"]: p.get("ParameterValue") for p in (boot or {}).get("Parameters", [])}
    if "CreateBucket" in previous:
        create = previous["CreateBucket"]
    else:
        create = "false" if _bucket_exists(s3, req.bucket) else "true"
    return {"BucketName": req.bucket, "CreateBucket": create, "ServingRepositoryName": serving_repository(req)}


def serving_repository(req: UpRequest) -> str:
    """ECR repository of the serving image: one per deployment unless given."""
    return req.params.get("ServingRepositoryName", f"{req.stack_name}-serving")


def _bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError:
        return False


def _check_serving_image(req: UpRequest, boot_outputs: dict[str, str], ui: Ui) -> None:
    """The endpoint cannot start without the image: an error on AWS, a warning on an emulator."""
    from botocore.exceptions import ClientError

    repo = serving_repository(req)
    tag = req.params.get("ServingImageTag", "latest")
    try:
        req.target.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        return
    except ClientError:
        pass
    uri = boot_outputs.get("ServingRepositoryUri", repo)
    image = f"{uri}:{tag}"
    message = f"serving image {image} not found; build and push it: docker build -t {image} . && docker push {image}"
    if req.target.is_emulator:
        ui.warn(message)
    else:
        raise PreflightError(message)


def _start_flink(target: AwsTarget, app: str, ui: Ui) -> None:
    client = target.client("kinesisanalyticsv2")
    status = client.describe_application(ApplicationName=app)["ApplicationDetail"]["ApplicationStatus"]
    if status == "READY":
        ui.step(f"starting Flink application {app}")
        client.start_application(
            ApplicationName=app,
            RunConfiguration={
                "ApplicationRestoreConfiguration": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}
            },
        )
    else:
        ui.step(f"Flink application {app} is {status}")
