"""The nightly stack (``<stack>-nightly``, ``nightly.yaml``): EMR Serverless nightly job, its
schedule and failure alarm, and the retraining role. ``deploy up`` deploys it after the main stack,
from that stack's outputs and the batch artifacts ``deploy package`` built."""

from __future__ import annotations

from pathlib import Path

from fraudstream.deploy.package import BATCH_PREFIX, NIGHTLY_JOB, PYSPARK_ENV

NIGHTLY_TEMPLATE = "nightly.yaml"


def nightly_stack_name(stack_name: str) -> str:
    return f"{stack_name}-nightly"


def runtime_repository(stack_name: str, params: dict[str, str]) -> str:
    """ECR repository of the runtime image (the retraining job): one per deployment unless given."""
    return params.get("RuntimeRepositoryName", f"{stack_name}-runtime")


def split_params(params: dict[str, str], main_template: Path, nightly_template: Path) -> tuple[dict, dict]:
    """``--params`` for the main stack and for the nightly stack: a key only the nightly template
    declares goes there alone (CloudFormation refuses a parameter a template does not declare)."""
    from fraudstream.deploy.policy import load_template

    main_keys = set(load_template(main_template).get("Parameters") or {})
    nightly_keys = set(load_template(nightly_template).get("Parameters") or {})
    main = {k: v for k, v in params.items() if k in main_keys or k not in nightly_keys}
    nightly = {k: v for k, v in params.items() if k in nightly_keys}
    return main, nightly


def nightly_params(
    *,
    bucket: str,
    key_arn: str,
    keys: dict[str, str],
    main_outputs: dict[str, str],
    python: str | None = None,
    runtime_repository_name: str,
    given: dict[str, str],
) -> dict[str, str]:
    """The nightly stack's parameters: the lake defaults to the artifact bucket (prefix ``lake/``),
    the feature tables (1-week, card windows, merchant) and the alarm topic come from the main stack,
    the code keys from the upload, the interpreter from the environment archive (``python``: its
    ``details['python']``; the template's default, the release's Python 3.11, when None)."""
    params = {
        "LakeBucket": bucket,
        "ArtifactsBucket": bucket,
        "PackagePrefix": BATCH_PREFIX,
        "NightlyJobKey": keys[NIGHTLY_JOB],
        "PysparkEnvKey": keys[PYSPARK_ENV],
        "BatchTableName": main_outputs["BatchFeatureTable"],
        "CardWindowsTableName": main_outputs["CardWindowsFeatureTable"],
        "MerchantTableName": main_outputs["MerchantFeatureTable"],
        "AlarmTopicArn": main_outputs["AlarmTopicArn"],
        "DataKeyArn": key_arn,
        "RuntimeRepositoryName": runtime_repository_name,
    }
    if python:
        params["PysparkPython"] = python
    params.update(given)
    return params


def has_batch_artifacts(keys: dict[str, str]) -> bool:
    return NIGHTLY_JOB in keys and PYSPARK_ENV in keys
