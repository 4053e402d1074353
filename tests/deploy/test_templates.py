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
    assert {p.name for p in TEMPLATES} >= {"fraudstream.yaml", "artifacts.yaml", "nightly.yaml"}


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
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "Key"}}}
            ]
        },
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
    # ---- issue 19
    elif kind == "endpoint-policy-service-wildcard":
        t["Resources"]["Endpoint"] = _gateway_endpoint(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
        )
    elif kind == "service-principal-wildcard":
        t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
            _trust("*", {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLike": {"aws:SourceArn": "arn:x"}})
        ]
    elif kind == "missing-source-arn":
        t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
            _trust("lambda.amazonaws.com", {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
        ]
    elif kind == "missing-source-account":
        t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
            _trust("scheduler.amazonaws.com", {"ArnLike": {"aws:SourceArn": "arn:aws:scheduler:r:1:schedule-group/d"}})
        ]
    elif kind == "unconditioned-trust":
        t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
            _trust("sagemaker.amazonaws.com", None)
        ]
    elif kind == "lambda-permission-without-source":
        t["Resources"]["Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": "f", "Principal": "s3.amazonaws.com"},
        }
    elif kind == "gateway-endpoint-without-policy":
        endpoint = _gateway_endpoint({})
        del endpoint["Properties"]["PolicyDocument"]
        t["Resources"]["Endpoint"] = endpoint
    elif kind == "interface-endpoint-without-policy":
        endpoint = _gateway_endpoint({})
        endpoint["Properties"] = {"VpcEndpointType": "Interface", "ServiceName": "com.amazonaws.r.sts"}
        t["Resources"]["Endpoint"] = endpoint
    elif kind == "endpoint-statement-without-resource":
        statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}
        t["Resources"]["Endpoint"] = _gateway_endpoint(statement)
    elif kind == "endpoint-policy-star-resource":
        t["Resources"]["Endpoint"] = _gateway_endpoint(
            {"Effect": "Allow", "Principal": "*", "Action": "dynamodb:PutItem", "Resource": "*"}
        )
    elif kind == "unencrypted-log-group":
        t["Resources"]["Logs"] = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14}}
    elif kind == "mutable-image-tag":
        t["Resources"]["Model"] = _model({"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/r:latest"})
    elif kind == "mutable-image-tag-parameter":
        t["Resources"]["Model"] = _model({"Fn::Sub": "${AWS::AccountId}.dkr.ecr.x.amazonaws.com/r:${Tag}"})
    elif kind == "mutable-lambda-image":
        t["Resources"]["Function"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Code": {"ImageUri": "1.dkr.ecr.x.amazonaws.com/r:v1"}},
        }
    elif kind == "mutable-repository":
        t["Resources"]["Repository"] = {
            "Type": "AWS::ECR::Repository",
            "Properties": {"ImageTagMutability": "MUTABLE", "EncryptionConfiguration": {"EncryptionType": "KMS"}},
        }
    elif kind == "model-without-network-isolation":
        t["Resources"]["Model"] = _model("1.dkr.ecr.x.amazonaws.com/r@sha256:" + "a" * 64)
        del t["Resources"]["Model"]["Properties"]["EnableNetworkIsolation"]
    elif kind == "table-on-aws-managed-key":
        t["Resources"]["Table"] = _table()
        t["Resources"]["Table"]["Properties"]["SSESpecification"] = {"SSEEnabled": True}
    elif kind == "table-without-deletion-policy":
        t["Resources"]["Table"] = _table()
        del t["Resources"]["Table"]["DeletionPolicy"]
    elif kind == "table-without-deletion-protection":
        t["Resources"]["Table"] = _table()
        t["Resources"]["Table"]["Properties"]["DeletionProtectionEnabled"] = False
    elif kind == "queue-on-sqs-managed-sse":
        t["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}}
    elif kind == "bucket-on-sse-s3":
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] = {
            "SSEAlgorithm": "AES256"
        }
    elif kind == "msk-on-default-key":
        t["Resources"]["Kafka"] = {
            "Type": "AWS::MSK::Cluster",
            "Properties": {
                "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
                "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
            },
        }
    return t


def _trust(service: str, condition: dict | None) -> dict:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _gateway_endpoint(statement: dict) -> dict:
    return {
        "Type": "AWS::EC2::VPCEndpoint",
        "Properties": {"VpcEndpointType": "Gateway", "PolicyDocument": {"Statement": [statement]}},
    }


def _model(image) -> dict:
    return {
        "Type": "AWS::SageMaker::Model",
        "Properties": {"EnableNetworkIsolation": True, "PrimaryContainer": {"Image": image}},
    }


def _table() -> dict:
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "Properties": {
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "Key"}},
            "DeletionProtectionEnabled": True,
        },
    }


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
    # issue 19
    "endpoint-policy-service-wildcard": "wildcard-action",
    "service-principal-wildcard": "wildcard-principal",
    "missing-source-arn": "confused-deputy",
    "missing-source-account": "confused-deputy",
    "unconditioned-trust": "confused-deputy",
    "lambda-permission-without-source": "confused-deputy",
    "gateway-endpoint-without-policy": "open-endpoint",
    "interface-endpoint-without-policy": "open-endpoint",
    "endpoint-statement-without-resource": "wildcard-resource",
    "endpoint-policy-star-resource": "wildcard-resource",
    "unencrypted-log-group": "unencrypted-store",
    "mutable-image-tag": "mutable-image",
    "mutable-image-tag-parameter": "mutable-image",
    "mutable-lambda-image": "mutable-image",
    "mutable-repository": "mutable-image",
    "model-without-network-isolation": "open-network",
    "table-on-aws-managed-key": "no-customer-key",
    "table-without-deletion-policy": "unprotected-data",
    "table-without-deletion-protection": "unprotected-data",
    "queue-on-sqs-managed-sse": "no-customer-key",
    "bucket-on-sse-s3": "no-customer-key",
    "msk-on-default-key": "no-customer-key",
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_policy_rejects_planted_violation(kind: str):
    rules = {v.rule for v in check_template(_plant(kind))}
    assert PLANTED[kind] in rules, rules


def test_compliant_forms_of_the_new_rules_pass():
    """The fixed shapes: digest-pinned images, bound trust (IfExists counts), endpoint policies with
    Principal "*" on named resources, customer keys, retained and protected tables."""
    t = _template(
        Model=_model({"Fn::Sub": "${AWS::AccountId}.dkr.ecr.x.amazonaws.com/r@${Digest}"}),
        Literal=_model("1.dkr.ecr.x.amazonaws.com/r@sha256:" + "a" * 64),
        Endpoint=_gateway_endpoint(
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
        ),
        Table=_table(),
        Logs={"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7, "KmsKeyId": {"Ref": "Key"}}},
        Appliance={"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "GatewayLoadBalancer"}},
        Repository={
            "Type": "AWS::ECR::Repository",
            "Properties": {"ImageTagMutability": "IMMUTABLE", "EncryptionConfiguration": {"EncryptionType": "KMS"}},
        },
    )
    t["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"] = [
        _trust(
            "lambda.amazonaws.com",
            {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLikeIfExists": {"aws:SourceArn": "arn:x"}},
        )
    ]
    assert check_template(t) == []


def _violations_in_a_copy(template: dict, tmp_path: Path) -> set[tuple[str, str]]:
    """(resource, rule) of each violation in ``template`` written as YAML and read back like deploy does."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_plain(template)))
    return {(v.resource, v.rule) for v in check_file(path)}


def test_policy_rejects_a_bad_copy_of_the_real_template(tmp_path: Path):
    """Plant violations into the real main template (as a YAML file) and read it back like deploy does."""
    template = load_template(templates_dir() / "fraudstream.yaml")
    resources = template["Resources"]
    resources["AggWriterRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]
    resources["AggTable"]["Properties"].pop("SSESpecification")
    scorer_statements = resources["FraudScorerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    next(s for s in scorer_statements if s["Sid"] == "InvokeModel")["Action"] = "sagemaker:*"
    # issue 19's classes, planted into the real resources
    resources["ClockRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"].pop("ArnLikeIfExists")
    resources["S3GatewayEndpoint"]["Properties"].pop("PolicyDocument")
    resources["SageMakerRuntimeEndpoint"]["Properties"].pop("PolicyDocument")
    resources["StsEndpoint"]["Properties"].pop("PolicyDocument")
    resources["ClockLogGroup"]["Properties"].pop("KmsKeyId")
    resources["ScoringModel"]["Properties"]["PrimaryContainer"]["Image"] = "1.dkr.ecr.x.amazonaws.com/r:latest"
    resources["BatchTable"].pop("DeletionPolicy")
    resources["FailureQueue"]["Properties"].pop("KmsMasterKeyId")
    resources["FailureQueue"]["Properties"]["SqsManagedSseEnabled"] = True
    assert _violations_in_a_copy(template, tmp_path) == {
        ("AggWriterRole", "broad-managed-policy"),
        ("AggTable", "unencrypted-store"),
        ("FraudScorerRole", "wildcard-action"),
        ("ClockRole", "confused-deputy"),
        ("S3GatewayEndpoint", "open-endpoint"),
        ("SageMakerRuntimeEndpoint", "open-endpoint"),
        ("StsEndpoint", "open-endpoint"),
        ("ClockLogGroup", "unencrypted-store"),
        ("ScoringModel", "mutable-image"),
        ("BatchTable", "unprotected-data"),
        ("FailureQueue", "no-customer-key"),
    }


def _role_actions(resources: dict, *names: str) -> dict[str, object]:
    """Sid -> (actions, resource) of every statement of the named roles/policies."""
    out: dict[str, object] = {}
    for name in names:
        props = resources[name]["Properties"]
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])] or [props["PolicyDocument"]]
        for document in documents:
            for statement in document["Statement"]:
                out[statement["Sid"]] = (sorted(statement["Action"]), statement["Resource"])
    return out


def test_clock_role_grants_only_logs_network_interfaces_and_producing_to_transactions():
    resources = load_template(templates_dir() / "fraudstream.yaml")["Resources"]
    grants = _role_actions(resources, "ClockRole", "ClockKafkaPolicy")
    assert set(grants) == {"Logs", "VpcNetworkInterfaces", "Cluster", "WriteHeartbeats"}
    assert grants["Logs"] == (["logs:CreateLogStream", "logs:PutLogEvents"], {"Fn::GetAtt": ["ClockLogGroup", "Arn"]})
    assert all(a.startswith("ec2:") for a in grants["VpcNetworkInterfaces"][0])
    assert grants["Cluster"] == (["kafka-cluster:Connect"], {"Fn::GetAtt": ["KafkaTopics", "ClusterArn"]})
    assert grants["WriteHeartbeats"] == (
        ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
        {"Fn::Sub": "${KafkaTopics.TopicArnPrefix}/transactions"},
    )
    assert resources["ClockKafkaPolicy"]["Properties"]["Roles"] == [{"Ref": "ClockRole"}]
    function = resources["ClockFunction"]["Properties"]
    assert function["Handler"] == "lambdas/clock.handler" and function["Timeout"] == 70
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["Environment"]["Variables"]["FRAUDSTREAM_CLOCK_INTERVAL_MS"] == {"Ref": "ClockIntervalMs"}


def test_clock_schedule_invokes_the_clock_only():
    resources = load_template(templates_dir() / "fraudstream.yaml")["Resources"]
    schedule = resources["ClockSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["ClockFunction", "Arn"]}
    assert schedule["Target"]["RoleArn"] == {"Fn::GetAtt": ["ClockSchedulerRole", "Arn"]}
    grants = _role_actions(resources, "ClockSchedulerRole")
    assert grants == {"InvokeClock": (["lambda:InvokeFunction"], {"Fn::GetAtt": ["ClockFunction", "Arn"]})}
    (trust,) = resources["ClockSchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]["StringEquals"]) == {"aws:SourceAccount"}
    assert set(trust["Condition"]["ArnLike"]) == {"aws:SourceArn"}


def test_scorer_invokes_the_endpoint_by_its_arn():
    """SageMaker lower-cases ARNs: the grant is the endpoint's own ARN, never one built from the stack name."""
    resources = load_template(templates_dir() / "fraudstream.yaml")["Resources"]
    grants = _role_actions(resources, "FraudScorerRole")
    assert grants["InvokeModel"] == (["sagemaker:InvokeEndpoint"], {"Ref": "ScoringEndpoint"})


def test_nightly_group_tables_follow_the_feature_groups_and_only_the_scorer_reads_them():
    """cc-windows-fg and merchant-fg (issue 15): keyed as ``featurestore.groups`` declares them, named
    as the settings' defaults, passed to the scorer; read (never written) by the scorer and the gateway
    endpoint's feature-groups statement, not granted to the agg-writer at all."""
    from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP
    from fraudstream.settings import Settings

    template = load_template(templates_dir() / "fraudstream.yaml")
    resources, outputs = template["Resources"], template["Outputs"]
    tables = {"CardWindowsTable": CARD_WINDOWS_GROUP, "MerchantTable": MERCHANT_GROUP}
    defaults = Settings.model_fields
    for logical, group in tables.items():
        props = resources[logical]["Properties"]
        key = group.record_identifier
        assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert props["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
        assert props["TableName"] == {"Fn::Sub": "${AWS::StackName}-" + defaults[group.table_setting].default}
        env = "FRAUDSTREAM_" + group.table_setting.upper()
        assert resources["FraudScorerFunction"]["Properties"]["Environment"]["Variables"][env] == {"Ref": logical}
        assert any(o["Value"] == {"Ref": logical} for o in outputs.values())
    arns = [{"Fn::GetAtt": [name, "Arn"]} for name in ("AggTable", "BatchTable", *tables)]
    scorer = _role_actions(resources, "FraudScorerRole")
    assert scorer["ReadFeatureGroups"] == (
        ["dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:GetItem"],
        arns,
    )
    writer = _role_actions(resources, "AggWriterRole")
    assert not _references([grant[1] for grant in writer.values()]) & set(tables)
    (gateway,) = resources["DynamoDbGatewayEndpoint"]["Properties"]["PolicyDocument"]["Statement"]
    assert gateway["Resource"] == arns


def _references(value) -> set[str]:
    """Logical ids a Resource value names (Ref, GetAtt, ``${X}`` / ``${X.Attr}`` of a Sub, both If branches)."""
    import re

    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]}
    if "Fn::If" in value:
        return _references(value["Fn::If"][1:])
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return {m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.:]+)\}", text) if not m.startswith("AWS::")}
    return set()


def test_every_vpc_endpoint_allows_only_this_stacks_resources():
    """Each endpoint (gateway and interface) has a policy; every Allow names resources of this stack
    (or the parameters naming its bucket), never "*"; the handler-facing ones name the exact grant."""
    template = load_template(templates_dir() / "fraudstream.yaml")
    resources = template["Resources"]
    names = set(resources) | set(template.get("Parameters", {}))
    endpoints = {n: r for n, r in resources.items() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    assert {r["Properties"]["VpcEndpointType"] for r in endpoints.values()} == {"Gateway", "Interface"}
    for name, endpoint in endpoints.items():
        statements = endpoint["Properties"]["PolicyDocument"]["Statement"]
        for statement in statements:
            assert statement["Effect"] == "Allow" and "*" not in str(statement["Action"]), (name, statement)
            if statement.get("Sid") == "AnswerCloudFormation":  # AWS's response bucket, PutObject only
                assert statement["Action"] == ["s3:PutObject"]
                assert "cloudformation-custom-resource-response-" in statement["Resource"]["Fn::Sub"][0]
                continue
            named = _references(statement["Resource"])
            assert named and named <= names, (name, statement["Resource"])
            assert statement["Resource"] != "*", name
    grants = {
        n: [(sorted(s["Action"]), _references(s["Resource"])) for s in e["Properties"]["PolicyDocument"]["Statement"]]
        for n, e in endpoints.items()
    }
    assert grants["SageMakerRuntimeEndpoint"] == [(["sagemaker:InvokeEndpoint"], {"ScoringEndpoint"})]
    assert grants["LambdaApiEndpoint"] == [(["lambda:InvokeFunction"], {"AggWriterFunction", "FraudScorerFunction"})]
    assert grants["StsEndpoint"] == [(["sts:AssumeRole"], {"AggWriterRole", "FraudScorerRole"})]
    assert grants["SqsEndpoint"] == [(["sqs:SendMessage"], {"FailureQueue"})]
    assert grants["KafkaApiEndpoint"] == [
        (["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"], {"ServerlessCluster", "ProvisionedCluster"})
    ]
    scorer_only = endpoints["SageMakerRuntimeEndpoint"]["Properties"]["PolicyDocument"]["Statement"][0]["Principal"]
    assert scorer_only == {"AWS": {"Fn::GetAtt": ["FraudScorerRole", "Arn"]}}


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


# ----------------------------------------------------------------------------- nightly.yaml (issue 17)


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def test_nightly_job_role_reads_the_lake_and_package_and_writes_only_the_nightly_tables():
    resources = load_template(templates_dir() / "nightly.yaml")["Resources"]
    grants = _role_actions(resources, "NightlyJobRole")
    s3 = "arn:${AWS::Partition}:s3:::"
    assert grants == {
        "ListLakeAndPackage": (["s3:ListBucket"], [_sub(f"{s3}${{LakeBucket}}"), _sub(f"{s3}${{ArtifactsBucket}}")]),
        "ReadLake": (["s3:GetObject"], _sub(f"{s3}${{LakeBucket}}/${{LakePrefix}}/*")),
        "ReadPackage": (["s3:GetObject"], _sub(f"{s3}${{ArtifactsBucket}}/${{PackagePrefix}}/*")),
        "WriteTrainingSet": (
            ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            _sub(f"{s3}${{LakeBucket}}/${{TrainingPrefix}}/*"),
        ),
        "WriteBatchFeatures": (
            ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem"],
            [
                _sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{{name}}}")
                for name in ("BatchTableName", "CardWindowsTableName", "MerchantTableName")
            ],
        ),
        "UseDataKey": (["kms:Decrypt", "kms:GenerateDataKey"], {"Ref": "DataKeyArn"}),
        "WriteJobLogs": (
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            {"Fn::GetAtt": ["NightlyLogGroup", "Arn"]},
        ),
    }


def test_nightly_schedule_starts_this_application_only_with_retries_after_midnight():
    resources = load_template(templates_dir() / "nightly.yaml")["Resources"]
    grants = _role_actions(resources, "NightlySchedulerRole")
    assert grants == {
        "StartNightlyRun": (["emr-serverless:StartJobRun"], {"Fn::GetAtt": ["NightlyApplication", "Arn"]}),
        "PassJobRole": (["iam:PassRole"], {"Fn::GetAtt": ["NightlyJobRole", "Arn"]}),
    }
    schedule = resources["NightlySchedule"]["Properties"]
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    params = load_template(templates_dir() / "nightly.yaml")["Parameters"]
    assert params["ScheduleExpression"]["Default"] == "cron(15 0 * * ? *)"
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert schedule["Target"]["RoleArn"] == {"Fn::GetAtt": ["NightlySchedulerRole", "Arn"]}
    alarm = resources["NightlyFailedAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/EMRServerless", "FailedJobs")
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]


def test_retrain_role_reads_inputs_writes_its_prefix_and_is_assumable_by_its_jobs_only():
    resources = load_template(templates_dir() / "nightly.yaml")["Resources"]
    grants = _role_actions(resources, "RetrainRole")
    s3 = "arn:${AWS::Partition}:s3:::"
    assert grants["ReadTrainingSet"] == (["s3:GetObject"], _sub(f"{s3}${{LakeBucket}}/${{TrainingPrefix}}/*"))
    assert grants["ReadCurrentModel"] == (["s3:GetObject"], _sub(f"{s3}${{ArtifactsBucket}}/${{ModelPrefix}}/model-*"))
    assert grants["WriteCandidate"] == (["s3:PutObject"], _sub(f"{s3}${{ArtifactsBucket}}/${{RetrainPrefix}}/*"))
    assert grants["EcrToken"] == (["ecr:GetAuthorizationToken"], "*")  # no resource-level permission exists
    wildcard = {sid for sid, (_, resource) in grants.items() if resource == "*"}
    assert wildcard == {"EcrToken"}
    assert not any(a.startswith(("dynamodb:", "sagemaker:", "iam:")) for actions, _ in grants.values() for a in actions)
    (trust,) = resources["RetrainRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == _sub(
        "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:processing-job/${AWS::StackName}-retrain-*"
    )


def test_policy_rejects_a_bad_copy_of_the_nightly_template(tmp_path: Path):
    template = load_template(templates_dir() / "nightly.yaml")
    resources = template["Resources"]
    job = resources["NightlyJobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    next(s for s in job if s["Sid"] == "WriteBatchFeatures")["Action"] = "dynamodb:*"
    resources["RetrainRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition")
    resources["NightlyLogGroup"]["Properties"].pop("KmsKeyId")
    assert _violations_in_a_copy(template, tmp_path) == {
        ("NightlyJobRole", "wildcard-action"),
        ("RetrainRole", "confused-deputy"),
        ("NightlyLogGroup", "unencrypted-store"),
    }
