"""The checks `deploy up` makes before and around the stacks (issue 19): stack names, an existing
bucket's owner and protections, the image digest, prefix lists, object versions, code signing.
Against moto in-process (``mock_aws``)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from fraudstream.deploy import deployer
from fraudstream.deploy.deployer import (
    PLACEHOLDER_DIGEST,
    PreflightError,
    UpRequest,
    check_existing_bucket,
    object_version,
    sign_code,
    validate_stack_name,
)
from fraudstream.deploy.target import AwsTarget

REGION = "us-east-1"
ACCOUNT = "123456789012"


class Collect:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def step(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def listener(self, kind, value) -> None:
        pass


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.mark.parametrize("name", ["fraudstream", "fs-e2e", "a1-b2-c3", "x" * 40])
def test_valid_stack_names(name):
    assert validate_stack_name(name) == name


@pytest.mark.parametrize("name", ["Fraudstream", "fraud_stream", "fraud--x", "-x", "x-", "1abc", "x" * 41, ""])
def test_invalid_stack_names(name):
    with pytest.raises(ValueError, match="stack name"):
        validate_stack_name(name)


def test_an_existing_bucket_must_match_what_the_bootstrap_stack_would_make(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="theirs")
    problems = check_existing_bucket(s3, "theirs", ACCOUNT)
    assert any("public access block" in p for p in problems)
    assert any("TLS" in p for p in problems)
    assert any("versioning" in p for p in problems)

    s3.put_public_access_block(
        Bucket="theirs",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )  # fmt: skip
    deny = {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::theirs/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }  # fmt: skip
    s3.put_bucket_policy(Bucket="theirs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]}))
    s3.put_bucket_versioning(Bucket="theirs", VersioningConfiguration={"Status": "Enabled"})
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    s3.put_bucket_encryption(Bucket="theirs", ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert check_existing_bucket(s3, "theirs", ACCOUNT) == []


def test_object_version_is_none_in_an_unversioned_bucket(aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"1")
    assert object_version(s3, "plain", "k", ACCOUNT) is None
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="versioned", Key="k", Body=b"1")["VersionId"]
    assert object_version(s3, "versioned", "k", ACCOUNT) == version


def _request(target: AwsTarget, **params: str) -> UpRequest:
    return UpRequest(stack_name="fs", bucket="b", target=target, params=params)


def test_the_serving_tag_is_resolved_to_its_digest(aws):
    ecr = aws("ecr")
    ecr.create_repository(repositoryName="fs-serving", imageTagMutability="IMMUTABLE")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    pushed = ecr.put_image(repositoryName="fs-serving", imageManifest=manifest, imageTag="v7")["image"]
    target = AwsTarget(region=REGION)
    digest = deployer._serving_image_digest(_request(target, ServingImageTag="v7"), {}, Collect())
    assert digest == pushed["imageId"]["imageDigest"] and digest.startswith("sha256:")
    explicit = "sha256:" + "b" * 64
    assert deployer._serving_image_digest(_request(target, ServingImageDigest=explicit), {}, Collect()) == explicit


def test_a_missing_image_stops_a_real_deploy_and_is_a_placeholder_on_an_emulator(aws):
    aws("ecr").create_repository(repositoryName="fs-serving")
    with pytest.raises(PreflightError, match="not found"):
        deployer._serving_image_digest(_request(AwsTarget(region=REGION)), {}, Collect())

    class InProcessEmulator(AwsTarget):  # moto in this process, reported as an emulator
        @property
        def is_emulator(self) -> bool:
            return True

    ui = Collect()
    assert deployer._serving_image_digest(_request(InProcessEmulator(region=REGION)), {}, ui) == PLACEHOLDER_DIGEST
    assert ui.warnings and "docker push" in ui.warnings[0]


def test_prefix_lists_of_the_region(aws):
    ids = deployer._prefix_lists(aws("ec2"), REGION)
    assert set(ids) == {"S3PrefixListId", "DynamoDbPrefixListId"}
    assert all(value.startswith("pl-") for value in ids.values())


def test_sign_code_waits_for_the_signed_object(aws, monkeypatch):
    s3 = aws("s3")
    s3.create_bucket(Bucket="art")
    s3.put_bucket_versioning(Bucket="art", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="art", Key="fraudstream/lambda.zip", Body=b"zip")

    class Signer:
        def __init__(self) -> None:
            self.polls = 0
            self.source: dict = {}

        def start_signing_job(self, source, destination, profileName):  # noqa: N803 (boto3 naming)
            self.source = source
            assert destination["s3"]["bucketName"] == "art" and profileName == "fraudstream"
            return {"jobId": "job-1"}

        def describe_signing_job(self, jobId):  # noqa: N803
            self.polls += 1
            if self.polls < 2:
                return {"status": "InProgress"}
            return {"status": "Succeeded", "signedObject": {"s3": {"key": "fraudstream/signed/job-1.zip"}}}

    signer = Signer()
    monkeypatch.setattr(deployer.time, "sleep", lambda _seconds: None)
    key = sign_code(signer, s3, "art", "fraudstream/lambda.zip", "fraudstream")
    assert key == "fraudstream/signed/job-1.zip"
    assert signer.source["s3"]["version"]  # Signer needs the source version
