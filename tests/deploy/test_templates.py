"""Every CloudFormation template is cfn-lint clean and passes the least-privilege / encryption policy;
the policy check is proven to reject planted bad templates."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fraudstream.deploy.deployer import templates_dir
from fraudstream.deploy.policy import check_file, check_template, load_template

TEMPLATES = sorted(templates_dir().glob("*.yaml"))


def test_templates_exist():
    assert {p.name for p in TEMPLATES} >= {"fraudstream.yaml", "artifacts.yaml"}


def test_cfn_lint_clean_on_every_template():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), *map(str, TEMPLATES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_pass_the_policy(path: Path):
    assert [str(v) for v in check_file(path)] == []


# ----------------------------------------------------------------------------- planted violations

GOOD_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {"Statement": []},
        "Policies": [
            {
                "PolicyName": "p",
                "PolicyDocument": {
                    "Statement": [
                        {"Sid": "Named", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:x"}
                    ]
                },
            }
        ],
    },
}
GOOD_BUCKET = {
    "Type": "AWS::S3::Bucket",
    "Properties": {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    },
}


def _template(**resources) -> dict:
    return {"Resources": {"Role": copy.deepcopy(GOOD_ROLE), "Bucket": copy.deepcopy(GOOD_BUCKET), **resources}}


def _role_statement(template: dict) -> dict:
    return template["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]


def test_good_baseline_passes():
    assert check_template(_template()) == []


def _plant(kind: str) -> dict:
    t = _template()
    props = t["Resources"]["Bucket"]["Properties"]
    if kind == "star-action":
        _role_statement(t)["Action"] = "*"
    elif kind == "service-star-action":
        _role_statement(t)["Action"] = ["s3:*"]
    elif kind == "partial-star-action":
        _role_statement(t)["Action"] = ["dynamodb:Get*"]
    elif kind == "conditional-star-action":
        _role_statement(t)["Action"] = [{"Fn::If": ["C", "kafka-cluster:*", {"Ref": "AWS::NoValue"}]}]
    elif kind == "star-resource":
        _role_statement(t)["Resource"] = "*"
    elif kind == "full-access":
        t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AmazonS3FullAccess"]
    elif kind == "full-access-policy-resource":
        t["Resources"]["Extra"] = {
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        }
    elif kind == "public-acl-bucket":
        props["AccessControl"] = "PublicRead"
    elif kind == "no-public-access-block":
        del props["PublicAccessBlockConfiguration"]
    elif kind == "partial-public-access-block":
        props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False
    elif kind == "public-bucket-policy":
        t["Resources"]["Policy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:b"}]
                }
            },
        }
    elif kind == "unencrypted-bucket":
        del props["BucketEncryption"]
    elif kind == "unversioned-bucket":
        del props["VersioningConfiguration"]
    elif kind == "unencrypted-table":
        t["Resources"]["Table"] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
        }
    elif kind == "plaintext-msk":
        t["Resources"]["Kafka"] = {
            "Type": "AWS::MSK::Cluster",
            "Properties": {
                "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
                "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS_PLAINTEXT", "InCluster": True}},
            },
        }
    elif kind == "unencrypted-queue":
        t["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": False}}
    elif kind == "unencrypted-topic":
        t["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    return t


PLANTED = {
    "star-action": "wildcard-action",
    "service-star-action": "wildcard-action",
    "partial-star-action": "wildcard-action",
    "conditional-star-action": "wildcard-action",
    "star-resource": "wildcard-resource",
    "full-access": "broad-managed-policy",
    "full-access-policy-resource": "wildcard-action",
    "public-acl-bucket": "public-bucket",
    "no-public-access-block": "public-bucket",
    "partial-public-access-block": "public-bucket",
    "public-bucket-policy": "public-principal",
    "unencrypted-bucket": "unencrypted-store",
    "unversioned-bucket": "unversioned-bucket",
    "unencrypted-table": "unencrypted-store",
    "plaintext-msk": "unencrypted-store",
    "unencrypted-queue": "unencrypted-store",
    "unencrypted-topic": "unencrypted-store",
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_policy_rejects_planted_violation(kind: str):
    rules = {v.rule for v in check_template(_plant(kind))}
    assert PLANTED[kind] in rules, rules


def test_policy_rejects_a_bad_copy_of_the_real_template(tmp_path: Path):
    """Plant violations into the real main template (as a YAML file) and read it back like deploy does."""
    template = load_template(templates_dir() / "fraudstream.yaml")
    resources = template["Resources"]
    resources["AggWriterRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]
    resources["AggTable"]["Properties"].pop("SSESpecification")
    scorer_statements = resources["FraudScorerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    next(s for s in scorer_statements if s["Sid"] == "InvokeModel")["Action"] = "sagemaker:*"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_plain(template)))
    found = {(v.resource, v.rule) for v in check_file(path)}
    assert found == {
        ("AggWriterRole", "broad-managed-policy"),
        ("AggTable", "unencrypted-store"),
        ("FraudScorerRole", "wildcard-action"),
    }


def test_deny_statements_may_be_broad():
    t = _template()
    statement = _role_statement(t)
    statement.update(Effect="Deny", Action="s3:*", Resource="*")
    assert check_template(t) == []


def _plain(value):
    """cfn-lint's decoded nodes -> plain dicts/lists/str for yaml.safe_dump."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)
