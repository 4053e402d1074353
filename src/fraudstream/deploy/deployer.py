"""The ``deploy up / down / status`` workflows: check → package → bootstrap → upload → stack → start.

The CLI only renders; every step lives here so that tests drive the same code path.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fraudstream.deploy import cfn
from fraudstream.deploy.nightly import (
    NIGHTLY_TEMPLATE,
    has_batch_artifacts,
    nightly_params,
    nightly_stack_name,
    runtime_repository,
    split_params,
)
from fraudstream.deploy.package import FLINK_ZIP, LAMBDA_ZIP, MODEL_TARBALL, PYSPARK_ENV, PackageManifest, package_all
from fraudstream.deploy.target import AwsTarget
from fraudstream.deploy.upload import template_source, upload_artifacts
from fraudstream.settings import Settings, get_settings

MAIN_TEMPLATE = "fraudstream.yaml"
BOOTSTRAP_TEMPLATE = "artifacts.yaml"

# Every physical name derives from the stack name: lower case because SageMaker ARNs and ECR
# repository names are lower case; 40 characters because "<stack>-fraud-scorer" must fit Lambda's 64.
STACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
STACK_NAME_MAX = 40
# Used on an emulator when the serving image is not in ECR (there is nothing to pull there).
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
# Parameters of `deploy up` itself, never sent to CloudFormation.
DEPLOYER_PARAMS = ("SigningProfileName",)


class Ui(Protocol):
    """What the workflows report; the CLI renders it with rich, tests may collect it."""

    def step(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def listener(self, kind: str, value: Any) -> None: ...


def templates_dir(settings: Settings | None = None) -> Path:
    """``FRAUDSTREAM_CFN_DIR``, else ``infra/cloudformation`` of the checkout (``Settings.project_dir``)."""
    settings = settings or get_settings()
    return settings.cfn_dir or settings.project_dir / "infra" / "cloudformation"


def parameter_defaults(path: Path) -> dict[str, str]:
    """A template's parameter defaults as CloudFormation reports values (strings)."""
    from fraudstream.deploy.policy import load_template

    params = load_template(path).get("Parameters") or {}
    return {name: str(spec["Default"]) for name, spec in params.items() if "Default" in spec}


def bootstrap_stack_name(stack_name: str) -> str:
    return f"{stack_name}-artifacts"


def validate_stack_name(name: str) -> str:
    """The stack name, or ValueError saying why it cannot name every resource of the deployment."""
    if len(name) > STACK_NAME_MAX:
        raise ValueError(f"stack name {name!r} is longer than {STACK_NAME_MAX} characters")
    if not STACK_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"stack name {name!r} must be lower-case letters, digits and single hyphens, starting with a letter "
            "(SageMaker ARNs and ECR repository names are lower case)"
        )
    return name


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
    nightly: bool = True
    pyspark_env: Path | None = None
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
    try:
        validate_stack_name(req.stack_name)
    except ValueError as exc:
        raise PreflightError(str(exc)) from exc
    ui.step("checking templates against the deploy policy")
    check_templates()

    manifest = _manifest(req, ui)
    for warning in manifest.warnings:
        ui.warn(warning)
    if MODEL_TARBALL not in manifest.artifacts and "ModelDataKey" not in req.params:
        raise PreflightError("no model tarball: train a model (`fraudstream train`) or pass --params ModelDataKey=...")

    cloudformation = req.target.client("cloudformation")
    s3 = req.target.client("s3")
    account = req.target.client("sts").get_caller_identity()["Account"]
    boot_params = _bootstrap_params(cloudformation, s3, req, account)
    if boot_params["CreateBucket"] == "false":
        ui.step(f"checking the existing bucket {req.bucket}")
        problems = check_existing_bucket(s3, req.bucket, account)
        if problems:
            raise PreflightError(f"bucket {req.bucket} cannot hold the artifacts:\n  " + "\n  ".join(problems))
    ui.step(f"bootstrap stack {bootstrap_stack_name(req.stack_name)} (key, bucket {req.bucket}, ECR repository)")
    boot = cfn.deploy_stack(
        cloudformation,
        bootstrap_stack_name(req.stack_name),
        {"TemplateBody": (templates_dir() / BOOTSTRAP_TEMPLATE).read_text()},
        boot_params,
        listener=ui.listener,
        poll_seconds=req.poll_seconds,
        defaults=parameter_defaults(templates_dir() / BOOTSTRAP_TEMPLATE),
    )
    key_arn = boot.outputs["DataKeyArn"]

    ui.step(f"uploading artifacts to s3://{req.bucket}")
    keys = upload_artifacts(
        s3, req.bucket, manifest, on_upload=lambda *uploaded: ui.listener("upload", uploaded),
        kms_key_arn=key_arn, expected_owner=account,
    )  # fmt: skip
    lambda_key = keys[LAMBDA_ZIP]
    profile = req.params.get("SigningProfileName")
    if profile:
        ui.step(f"signing {lambda_key} with AWS Signer profile {profile}")
        lambda_key = sign_code(req.target.client("signer"), s3, req.bucket, lambda_key, profile)
    params = {
        "ArtifactBucket": req.bucket,
        "DataKeyArn": key_arn,
        "LambdaCodeKey": lambda_key,
        "LambdaCodeVersion": object_version(s3, req.bucket, lambda_key, account) or "",
        "FlinkCodeKey": keys[FLINK_ZIP],
        "ServingRepositoryName": serving_repository(req),
        "ServingImageDigest": _serving_image_digest(req, boot.outputs, ui),
        **_prefix_lists(req.target.client("ec2"), req.target.region),
    }
    if MODEL_TARBALL in keys:
        params["ModelDataKey"] = keys[MODEL_TARBALL]
    if manifest.model.get("feature_set"):
        params["ModelFeatureSet"] = manifest.model["feature_set"]
    main_template = templates_dir() / MAIN_TEMPLATE
    given_main, given_nightly = split_params(req.params, main_template, templates_dir() / NIGHTLY_TEMPLATE)
    params.update({k: v for k, v in given_main.items() if k not in DEPLOYER_PARAMS})

    ui.step(f"stack {req.stack_name}: change set, execute, wait")
    template = template_source(
        s3, req.bucket, main_template, req.target.region, req.target.endpoint_url,
        kms_key_arn=key_arn, expected_owner=account,
    )  # fmt: skip
    result = cfn.deploy_stack(
        cloudformation, req.stack_name, template, params, listener=ui.listener, poll_seconds=req.poll_seconds,
        tags={"project": "fraudstream"}, defaults=parameter_defaults(main_template),
    )  # fmt: skip
    app = result.outputs.get("FlinkApplicationName")
    if app and req.start_flink:
        _start_flink(req.target, app, ui)
    if not req.nightly:
        ui.step("nightly stack skipped (--no-nightly)")
    elif not has_batch_artifacts(keys):
        ui.warn("nightly stack skipped: the package has no nightly job and PySpark environment (see warnings)")
    else:
        nightly = templates_dir() / NIGHTLY_TEMPLATE
        ui.step(f"stack {nightly_stack_name(req.stack_name)}: nightly job, schedule, alarm, retraining role")
        cfn.deploy_stack(
            cloudformation,
            nightly_stack_name(req.stack_name),
            {"TemplateBody": nightly.read_text()},
            nightly_params(
                bucket=req.bucket, key_arn=key_arn, keys=keys, main_outputs=result.outputs,
                runtime_repository_name=runtime_repository(req.stack_name, req.params), given=given_nightly,
                python=manifest.artifacts[PYSPARK_ENV].details.get("python"),
            ),
            listener=ui.listener, poll_seconds=req.poll_seconds, tags={"project": "fraudstream"},
            defaults=parameter_defaults(nightly),
        )  # fmt: skip
    return result


def run_down(stack_name: str, target: AwsTarget, ui: Ui, include_bootstrap: bool = False, poll_seconds: float = 5.0):
    """Delete the nightly and main stacks (and the bootstrap stack when asked; the bucket, the ECR
    repositories, the key and the tables are retained)."""
    cloudformation = target.client("cloudformation")
    names = [nightly_stack_name(stack_name), stack_name]
    names += [bootstrap_stack_name(stack_name)] if include_bootstrap else []
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
        pyspark_env=req.pyspark_env,
        step=lambda m: ui.listener("package", m),
    )


def _bootstrap_params(cloudformation: Any, s3: Any, req: UpRequest, account: str) -> dict[str, str]:
    """Create the bucket in the bootstrap stack unless it already exists outside that stack."""
    boot = cfn.describe_stack(cloudformation, bootstrap_stack_name(req.stack_name))
    previous = {p["ParameterKey"]: p.get("ParameterValue") for p in (boot or {}).get("Parameters", [])}
    if "CreateBucket" in previous:
        create = previous["CreateBucket"]
    else:
        create = "false" if _bucket_exists(s3, req.bucket, account) else "true"
    return {
        "BucketName": req.bucket,
        "CreateBucket": create,
        "DeploymentName": req.stack_name,
        "ServingRepositoryName": serving_repository(req),
        "RuntimeRepositoryName": runtime_repository(req.stack_name, req.params),
    }


def serving_repository(req: UpRequest) -> str:
    """ECR repository of the serving image: one per deployment unless given."""
    return req.params.get("ServingRepositoryName", f"{req.stack_name}-serving")


def _bucket_exists(s3: Any, bucket: str, account: str) -> bool:
    """True when the bucket exists and this account owns it; PreflightError when another one does."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return True
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise PreflightError(
            f"bucket {bucket} exists but is not owned by account {account} (or is not accessible): {code}"
        ) from exc


def check_existing_bucket(s3: Any, bucket: str, account: str) -> list[str]:
    """What a bucket made outside the bootstrap stack lacks compared with the one the stack makes:
    owner, full public access block, TLS-only policy, versioning, default encryption."""
    from botocore.exceptions import ClientError

    def call(method: str, **kwargs: Any) -> dict[str, Any] | None:
        try:
            return getattr(s3, method)(Bucket=bucket, ExpectedBucketOwner=account, **kwargs)
        except ClientError:
            return None

    problems: list[str] = []
    if call("head_bucket") is None:
        return [f"not owned by account {account}, or not accessible"]
    block = (call("get_public_access_block") or {}).get("PublicAccessBlockConfiguration", {})
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    if not all(block.get(flag) for flag in flags):
        problems.append("public access block is not fully on (all four settings)")
    policy = (call("get_bucket_policy") or {}).get("Policy", "")
    if not _denies_insecure_transport(policy):
        problems.append("no bucket policy statement denying requests without TLS (aws:SecureTransport false)")
    if (call("get_bucket_versioning") or {}).get("Status") != "Enabled":
        problems.append("versioning is not enabled")
    if not (call("get_bucket_encryption") or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules"):
        problems.append("no default encryption")
    return problems


def _denies_insecure_transport(policy_text: str) -> bool:
    import json

    try:
        statements = json.loads(policy_text).get("Statement", []) if policy_text else []
    except ValueError:
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        condition = statement.get("Condition", {}).get("Bool", {})
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport", "")).lower() == "false":
            return True
    return False


def object_version(s3: Any, bucket: str, key: str, account: str) -> str | None:
    """The object's version id (None in an unversioned bucket, where S3 answers "null")."""
    version = s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account).get("VersionId")
    return None if version in (None, "", "null") else version


def _serving_image_digest(req: UpRequest, boot_outputs: dict[str, str], ui: Ui) -> str:
    """ServingImageTag resolved to its digest (the endpoint runs the digest, never a tag). The
    endpoint cannot start without the image: an error on AWS, a warning and a placeholder on an emulator."""
    from botocore.exceptions import ClientError

    if req.params.get("ServingImageDigest"):
        return req.params["ServingImageDigest"]
    repo = serving_repository(req)
    tag = req.params.get("ServingImageTag", "latest")
    try:
        found = req.target.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        return found["imageDetails"][0]["imageDigest"]
    except (ClientError, KeyError, IndexError):
        pass
    uri = boot_outputs.get("ServingRepositoryUri", repo)
    image = f"{uri}:{tag}"
    message = f"serving image {image} not found; build and push it: docker build -t {image} . && docker push {image}"
    if req.target.is_emulator:
        ui.warn(message)
        return PLACEHOLDER_DIGEST
    raise PreflightError(message)


def _prefix_lists(ec2: Any, region: str) -> dict[str, str]:
    """The regional S3 and DynamoDB prefix lists (the handlers' egress rules name them)."""
    names = {f"com.amazonaws.{region}.s3": "S3PrefixListId", f"com.amazonaws.{region}.dynamodb": "DynamoDbPrefixListId"}
    found = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": sorted(names)}])["PrefixLists"]
    ids = {names[p["PrefixListName"]]: p["PrefixListId"] for p in found if p["PrefixListName"] in names}
    missing = sorted(set(names.values()) - set(ids))
    if missing:
        raise PreflightError(f"no prefix list for {missing} in {region}")
    return ids


def sign_code(signer: Any, s3: Any, bucket: str, key: str, profile: str, timeout: float = 600.0) -> str:
    """Sign an uploaded Lambda zip with AWS Signer; returns the signed object's key. The functions'
    code signing config (``CodeSigningConfigArn``) then rejects anything unsigned."""
    head = s3.head_object(Bucket=bucket, Key=key)
    job = signer.start_signing_job(
        source={"s3": {"bucketName": bucket, "key": key, "version": head.get("VersionId", "")}},
        destination={"s3": {"bucketName": bucket, "prefix": "fraudstream/signed/"}},
        profileName=profile,
    )
    deadline = time.time() + timeout
    while True:
        described = signer.describe_signing_job(jobId=job["jobId"])
        if described["status"] == "Succeeded":
            return described["signedObject"]["s3"]["key"]
        if described["status"] == "Failed" or time.time() > deadline:
            raise PreflightError(f"signing {key} failed: {described.get('statusReason', described['status'])}")
        time.sleep(2)


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
