"""``fraudstream deploy retrain``: the retraining path on AWS, one step after the other.

1. **Training set** — an EMR Serverless run of ``nightly_job.py training-set`` on the nightly
   application (same job, environment and role as the nightly run) writes the point-in-time
   training set from the S3 lake to ``s3://<lake>/training/<run>/``. Skipped with ``--training``.
2. **Train and compare** — a SageMaker Processing job in the runtime image runs
   :mod:`fraudstream.model.retrain` with network isolation: SageMaker copies the training set and the
   endpoint's current ``model.tar.gz`` in, and ``retrain.json`` (both reports, the decision) with the
   candidate's ``model.tar.gz`` out to ``s3://<artifacts>/retrain/<run>/``.
3. **Promote only a winner** — when the decision says so, the candidate tarball is copied to its
   content-addressed ``fraudstream/model-<sha>.tar.gz`` and the main stack is updated (previous
   template, ``ModelDataKey`` changed), which rolls the endpoint to a new endpoint config. A loser
   changes nothing. ``--apply s3://…/retrain/<run>/`` runs step 3 alone for a job already finished.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudstream.deploy import cfn
from fraudstream.deploy.nightly import nightly_stack_name
from fraudstream.deploy.target import AwsTarget

PROCESSING_ROOT = "/opt/ml/processing"
TRAINING_DIR = f"{PROCESSING_ROOT}/training"
CURRENT_DIR = f"{PROCESSING_ROOT}/current"
OUT_DIR = f"{PROCESSING_ROOT}/out"
JOB_DONE = {"SUCCESS"}
JOB_FAILED = {"FAILED", "CANCELLED"}
PROCESSING_JOB_NAME_MAX = 63


class RetrainError(RuntimeError):
    """A step failed or left nothing to decide on."""


@dataclass(frozen=True)
class RetrainRequest:
    stack_name: str
    target: AwsTarget
    image_tag: str = ""
    training_uri: str | None = None
    from_date: str | None = None
    to_date: str | None = None
    instance_type: str = "ml.m5.2xlarge"
    retrain_args: tuple[str, ...] = ()
    apply_uri: str | None = None
    poll_seconds: float = 30.0
    timeout_seconds: float = 6 * 3600


def new_run_id(now: datetime | None = None) -> str:
    """Lower case only: SageMaker ARNs are lower case, and the job role's trust names the job by ARN."""
    return f"{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def processing_job_name(stack_name: str, run_id: str) -> str:
    """``<stack>-nightly-retrain-<run>``: the name RetrainRole's trust admits (SageMaker allows 63
    characters, so stack names longer than 31 cannot retrain; refused before any call)."""
    name = f"{nightly_stack_name(stack_name)}-retrain-{run_id}"
    if len(name) > PROCESSING_JOB_NAME_MAX:
        raise RetrainError(
            f"processing job name {name!r} is longer than {PROCESSING_JOB_NAME_MAX} characters: "
            f"retraining needs a stack name of at most {PROCESSING_JOB_NAME_MAX - len(name) + len(stack_name)}"
        )
    return name


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise RetrainError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _stack(cloudformation: Any, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(outputs, parameters) of a stack that must exist."""
    stack = cfn.describe_stack(cloudformation, name)
    if stack is None:
        raise RetrainError(f"stack {name} does not exist: run `fraudstream deploy up` first")
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return cfn.outputs_of(stack), params


def training_set_run(nightly: dict[str, str], run_id: str, from_date: str | None, to_date: str | None) -> dict:
    """``StartJobRun`` arguments of the training-set build (the nightly run's job, other arguments)."""
    args = ["training-set", "--out", f"{nightly['TrainingUri']}/{run_id}"]
    args += ["--from", from_date] if from_date else []
    args += ["--to", to_date] if to_date else []
    return {
        "applicationId": nightly["NightlyApplicationId"],
        "executionRoleArn": nightly["NightlyJobRoleArn"],
        "name": f"training-set-{run_id}",
        "clientToken": f"training-set-{run_id}",
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": nightly["EntryPointUri"],
                "entryPointArguments": args,
                "sparkSubmitParameters": nightly["SparkSubmitParameters"],
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {
                "cloudWatchLoggingConfiguration": {"enabled": True, "logGroupName": nightly["NightlyLogGroupName"]}
            }
        },
    }


def processing_job(
    *,
    job_name: str,
    nightly: dict[str, str],
    key_arn: str,
    image_uri: str,
    training_uri: str,
    current_model_uri: str,
    out_uri: str,
    instance_type: str,
    retrain_args: tuple[str, ...] = (),
) -> dict:
    """``CreateProcessingJob`` arguments: the runtime image runs the retraining module, isolated."""
    command = ["python", "-m", "fraudstream.model.retrain", "--training", TRAINING_DIR]
    command += ["--current", CURRENT_DIR, "--out", OUT_DIR, *retrain_args]  # CURRENT_DIR: model-<sha>.tar.gz

    def s3_input(name: str, uri: str, local: str) -> dict:
        return {
            "InputName": name,
            "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File"},
        }

    return {
        "ProcessingJobName": job_name,
        "RoleArn": nightly["RetrainRoleArn"],
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": command},
        "ProcessingInputs": [
            s3_input("training", training_uri.rstrip("/") + "/", TRAINING_DIR),
            s3_input("current", current_model_uri, CURRENT_DIR),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "out", "S3Output": {"S3Uri": out_uri, "LocalPath": OUT_DIR, "S3UploadMode": "EndOfJob"}}
            ],
            "KmsKeyId": key_arn,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": instance_type,
                "VolumeSizeInGB": 50,
            }
        },
        "NetworkConfig": {"EnableNetworkIsolation": True, "EnableInterContainerTrafficEncryption": True},
        "StoppingCondition": {"MaxRuntimeInSeconds": 4 * 3600},
        "Tags": [{"Key": "project", "Value": "fraudstream"}],
    }


def _wait(read_state: Callable[[], tuple[str, str]], done: set[str], failed: set[str], what: str, req) -> None:
    deadline = time.monotonic() + req.timeout_seconds
    while True:
        state, reason = read_state()
        if state in done:
            return
        if state in failed:
            raise RetrainError(f"{what} ended {state}: {reason}")
        if time.monotonic() > deadline:
            raise RetrainError(f"{what} still {state} after {req.timeout_seconds:.0f} s")
        time.sleep(req.poll_seconds)


def read_result(s3: Any, out_uri: str, owner: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    bucket, prefix = split_s3(out_uri)
    key = f"{prefix.rstrip('/')}/retrain.json"
    try:
        body = s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)["Body"].read()
    except ClientError as exc:
        raise RetrainError(f"the retraining job wrote no s3://{bucket}/{key} ({exc})") from exc
    return json.loads(body)


def promote(req: RetrainRequest, out_uri: str, result: dict[str, Any], ui: Any) -> cfn.StackResult | None:
    """Roll the endpoint to the candidate if (and only if) the decision says it won."""
    from fraudstream.deploy.deployer import MAIN_TEMPLATE, parameter_defaults, templates_dir
    from fraudstream.deploy.package import MODEL_TARBALL, PackageManifest, _artifact
    from fraudstream.deploy.upload import upload_artifacts

    decision = result["decision"]
    if not decision["promote"]:
        ui.step(f"current model kept: {decision['reason']}")
        return None
    cloudformation, s3 = req.target.client("cloudformation"), req.target.client("s3")
    owner = req.target.client("sts").get_caller_identity()["Account"]
    _, params = _stack(cloudformation, req.stack_name)
    bucket, prefix = split_s3(out_uri)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tar.gz"
        s3.download_file(bucket, f"{prefix.rstrip('/')}/model.tar.gz", str(path), {"ExpectedBucketOwner": owner})
        facts = {"version": result["candidate"]["version"], "feature_set": result["candidate"]["feature_set"]}
        manifest = PackageManifest(out_dir=tmp, artifacts={MODEL_TARBALL: _artifact(MODEL_TARBALL, path, facts)})
        keys = upload_artifacts(
            s3, params["ArtifactBucket"], manifest, kms_key_arn=params["DataKeyArn"], expected_owner=owner
        )
    ui.step(f"candidate wins ({decision['reason']}): {req.stack_name} -> {keys[MODEL_TARBALL]}")
    return cfn.deploy_stack(
        cloudformation,
        req.stack_name,
        {"UsePreviousTemplate": True},
        {"ModelDataKey": keys[MODEL_TARBALL], "ModelFeatureSet": facts["feature_set"]},
        listener=ui.listener,
        poll_seconds=req.poll_seconds,
        tags={"project": "fraudstream"},
        defaults=parameter_defaults(templates_dir() / MAIN_TEMPLATE),
    )


def run_retrain(req: RetrainRequest, ui: Any) -> dict[str, Any]:
    """Training set → processing job → promote a winner; returns the job's result plus what was done."""
    s3 = req.target.client("s3")
    owner = req.target.client("sts").get_caller_identity()["Account"]
    if req.apply_uri:
        result = read_result(s3, req.apply_uri, owner)
        stack = promote(req, req.apply_uri, result, ui)
        return {**result, "out": req.apply_uri, "promoted": stack is not None}

    cloudformation = req.target.client("cloudformation")
    nightly_name = nightly_stack_name(req.stack_name)
    run_id = new_run_id()
    job_name = processing_job_name(req.stack_name, run_id)
    if not req.image_tag:
        raise RetrainError("--image-tag: the runtime image's tag in ECR (infra/docker/flink.Dockerfile, pushed)")
    main, _ = _stack(cloudformation, req.stack_name)
    nightly, nightly_params = _stack(cloudformation, nightly_name)

    training_uri = req.training_uri
    if training_uri is None:
        emr = req.target.client("emr-serverless")
        spec = training_set_run(nightly, run_id, req.from_date, req.to_date)
        ui.step(f"training set: EMR Serverless run on {spec['applicationId']}")
        job_run_id = emr.start_job_run(**spec)["jobRunId"]

        def state() -> tuple[str, str]:
            run = emr.get_job_run(applicationId=spec["applicationId"], jobRunId=job_run_id)["jobRun"]
            return run["state"], run.get("stateDetails", "")

        _wait(state, JOB_DONE, JOB_FAILED, f"training-set run {job_run_id}", req)
        training_uri = spec["jobDriver"]["sparkSubmit"]["entryPointArguments"][2]

    region = req.target.region
    image = f"{owner}.dkr.ecr.{region}.amazonaws.com/{nightly_params['RuntimeRepositoryName']}:{req.image_tag}"
    out_uri = f"{nightly['RetrainUri']}/{run_id}"
    job = processing_job(
        job_name=job_name, nightly=nightly, key_arn=nightly_params["DataKeyArn"],
        image_uri=image, training_uri=training_uri, current_model_uri=main["ModelDataUrl"], out_uri=out_uri,
        instance_type=req.instance_type, retrain_args=req.retrain_args,
    )  # fmt: skip
    sagemaker = req.target.client("sagemaker")
    ui.step(f"train and compare: SageMaker Processing job {job['ProcessingJobName']}")
    sagemaker.create_processing_job(**job)

    def job_state() -> tuple[str, str]:
        info = sagemaker.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
        return info["ProcessingJobStatus"], info.get("FailureReason", "")

    _wait(job_state, {"Completed"}, {"Failed", "Stopped"}, f"processing job {job['ProcessingJobName']}", req)
    result = read_result(s3, out_uri, owner)
    stack = promote(req, out_uri, result, ui)
    return {**result, "out": out_uri, "promoted": stack is not None, "processing_job": job["ProcessingJobName"]}
