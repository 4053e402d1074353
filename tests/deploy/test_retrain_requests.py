"""The requests ``deploy retrain`` sends (pure): names the job role's trust admits, what the job runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fraudstream.deploy.retrain import (
    CURRENT_DIR,
    TRAINING_DIR,
    RetrainError,
    new_run_id,
    processing_job,
    processing_job_name,
    split_s3,
    training_set_run,
)

NIGHTLY = {
    "NightlyApplicationId": "app1",
    "NightlyJobRoleArn": "arn:aws:iam::1:role/job",
    "RetrainRoleArn": "arn:aws:iam::1:role/retrain",
    "EntryPointUri": "s3://a/batch/nightly-job-x.py",
    "SparkSubmitParameters": "--conf spark.archives=s3://a/batch/pyspark-env-x.tar.gz#environment",
    "NightlyLogGroupName": "/fraudstream/fs-nightly/nightly",
    "TrainingUri": "s3://lake/training",
}


def test_run_ids_are_lower_case_because_sagemaker_arns_are():
    run = new_run_id(datetime(2026, 12, 3, 7, 5, 9, tzinfo=UTC))
    assert run == "20261203-070509" and run == run.lower()


def test_job_names_match_the_retrain_roles_trust_and_fit_sagemakers_limit():
    assert processing_job_name("fs", "20261203-070509") == "fs-nightly-retrain-20261203-070509"
    assert len(processing_job_name("a" * 31, "20261203-070509")) == 63
    with pytest.raises(RetrainError, match="at most 31"):
        processing_job_name("a" * 32, "20261203-070509")


def test_training_set_run_is_the_nightly_job_with_training_set_arguments():
    spec = training_set_run(NIGHTLY, "r1", None, "2020-05-14")
    submit = spec["jobDriver"]["sparkSubmit"]
    assert submit["entryPointArguments"] == ["training-set", "--out", "s3://lake/training/r1", "--to", "2020-05-14"]
    assert submit["entryPoint"] == NIGHTLY["EntryPointUri"]
    assert submit["sparkSubmitParameters"] == NIGHTLY["SparkSubmitParameters"]
    assert (spec["applicationId"], spec["executionRoleArn"]) == ("app1", NIGHTLY["NightlyJobRoleArn"])


def test_processing_job_runs_the_retraining_module_isolated_on_the_two_inputs():
    job = processing_job(
        job_name="fs-nightly-retrain-r1", nightly=NIGHTLY, key_arn="arn:aws:kms:k", image_uri="1.dkr/r:t",
        training_uri="s3://lake/training/r1", current_model_uri="s3://a/fraudstream/model-x.tar.gz",
        out_uri="s3://a/retrain/r1", instance_type="ml.m5.xlarge", retrain_args=("--set", "max_rounds=9"),
    )  # fmt: skip
    command = job["AppSpecification"]["ContainerEntrypoint"]
    assert command[:3] == ["python", "-m", "fraudstream.model.retrain"]
    assert command[command.index("--training") + 1] == TRAINING_DIR
    assert command[command.index("--current") + 1] == CURRENT_DIR and command[-2:] == ["--set", "max_rounds=9"]
    inputs = {i["InputName"]: (i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"]) for i in job["ProcessingInputs"]}
    assert inputs == {
        "training": ("s3://lake/training/r1/", TRAINING_DIR),  # the directory, not every key starting with r1
        "current": ("s3://a/fraudstream/model-x.tar.gz", CURRENT_DIR),
    }
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == "arn:aws:kms:k"
    assert job["RoleArn"] == NIGHTLY["RetrainRoleArn"]


def test_split_s3():
    assert split_s3("s3://b/k/x") == ("b", "k/x")
    with pytest.raises(RetrainError, match="not an s3://"):
        split_s3("/tmp/x")
