"""Least-privilege and encryption rules that every CloudFormation template of the project must pass.

cfn-lint checks that a template is valid; this module checks that it is *safe*: no wildcard
actions or service principals, no ``*FullAccess`` managed policies, no public or unencrypted stores,
customer-managed keys for card data, service trust policies bound to this account and resource
(``aws:SourceAccount`` + ``aws:SourceArn``), VPC endpoints (gateway and interface) with a policy
that names its resources, images pinned by
digest in immutable repositories, feature tables that survive a stack deletion. ``deploy up`` runs
it before touching an account, and the test suite runs it on every template (and on planted bad
ones, to prove it bites). checkov runs next to it in the test suite (tests/deploy/test_checkov.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Actions that do not support resource-level permissions (AWS documents them with Resource "*").
# Only these may be granted on Resource "*"; everything else must name its resources.
RESOURCE_WILDCARD_ACTIONS = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeDhcpOptions",
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
    }
)

BROAD_MANAGED_POLICY_MARKERS = ("FullAccess", "AdministratorAccess", "PowerUserAccess")
POLICY_DOCUMENT_PROPERTIES = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::EC2::VPCEndpoint": "PolicyDocument",
}
# Both keys must appear in every service trust statement (any operator, ``...IfExists`` included).
CONFUSED_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn")
# Endpoint types that take no endpoint policy (AWS rejects a PolicyDocument on them).
ENDPOINT_TYPES_WITHOUT_POLICY = frozenset({"GatewayLoadBalancer"})


@dataclass(frozen=True)
class Violation:
    """One broken rule: which resource, which rule, and what exactly is wrong."""

    resource: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.resource}: [{self.rule}] {self.detail}"


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a YAML/JSON template; short-form intrinsics become their long form
    (``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``)."""
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref" or suffix == "Condition":
            return {suffix: value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    CfnLoader.add_multi_constructor("!", intrinsic)
    template = yaml.load(Path(path).read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    if not isinstance(template, dict):
        raise ValueError(f"{path}: not a CloudFormation template")
    return template


def check_file(path: str | Path) -> list[Violation]:
    """All violations of one template file."""
    return check_template(load_template(path))


def check_template(template: dict[str, Any]) -> list[Violation]:
    """All violations of a parsed template (empty list = compliant)."""
    violations: list[Violation] = []
    for name, resource in (template.get("Resources") or {}).items():
        rtype = resource.get("Type", "")
        props = resource.get("Properties") or {}
        violations += _check_policies(name, rtype, props)
        checker = _STORE_CHECKS.get(rtype)
        if checker is not None:
            violations += [Violation(name, rule, detail) for rule, detail in checker(props)]
        if rtype == "AWS::DynamoDB::Table":
            violations += [Violation(name, rule, detail) for rule, detail in _check_table_lifecycle(resource)]
    return violations


# ----------------------------------------------------------------------------- IAM


def _check_policies(name: str, rtype: str, props: dict[str, Any]) -> list[Violation]:
    found: list[Violation] = []
    for arn in _strings(props.get("ManagedPolicyArns", [])):
        if any(marker in arn for marker in BROAD_MANAGED_POLICY_MARKERS):
            found.append(Violation(name, "broad-managed-policy", f"managed policy {arn}"))
    documents: list[Any] = []
    if rtype == "AWS::IAM::Role":
        documents += [p.get("PolicyDocument") for p in _branches(props.get("Policies", [])) if isinstance(p, dict)]
        for statement in _statements(props.get("AssumeRolePolicyDocument")):
            found += [Violation(name, rule, detail) for rule, detail in _check_trust_statement(statement)]
    if rtype in POLICY_DOCUMENT_PROPERTIES:
        documents.append(props.get(POLICY_DOCUMENT_PROPERTIES[rtype]))
    if rtype == "AWS::EC2::VPCEndpoint" and not props.get("PolicyDocument"):
        kind = props.get("VpcEndpointType", "Gateway")  # CloudFormation's default type
        if kind not in ENDPOINT_TYPES_WITHOUT_POLICY:
            found.append(Violation(name, "open-endpoint", f"{kind} endpoint without a PolicyDocument (allows all)"))
    if rtype == "AWS::Lambda::Permission":
        found += [Violation(name, rule, detail) for rule, detail in _check_lambda_permission(props)]
    key_policy = rtype == "AWS::KMS::Key"  # Resource "*" in a key policy means "this key"
    endpoint_policy = rtype == "AWS::EC2::VPCEndpoint"  # Principal "*" is the norm: IAM still decides who
    for document in documents:
        for statement in _statements(document):
            found += [
                Violation(name, rule, detail)
                for rule, detail in _check_statement(statement, key_policy, endpoint_policy)
            ]
    return found


def _check_trust_statement(statement: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A role that an AWS service assumes must name this account and the resource (confused deputy)."""
    if statement.get("Effect") != "Allow":
        return
    sid = statement.get("Sid", "?")
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and "*" in _strings(principal.get("AWS", []))):
        yield "public-principal", f"trust statement {sid} lets any principal assume the role"
    services = _strings(principal.get("Service", [])) if isinstance(principal, dict) else []
    for service in services:
        if "*" in service:
            yield "wildcard-principal", f"trust statement {sid} lets service principal {service!r} assume the role"
    if not services:
        return
    keys = _condition_keys(statement.get("Condition"))
    missing = [key for key in CONFUSED_DEPUTY_KEYS if key.lower() not in keys]
    if missing:
        yield "confused-deputy", f"trust statement {sid} for {services} lacks {' and '.join(missing)}"


def _check_lambda_permission(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    principal = props.get("Principal")
    service = isinstance(principal, str) and principal.endswith(".amazonaws.com")
    if service and not (props.get("SourceArn") and props.get("SourceAccount")):
        yield "confused-deputy", f"permission for {principal} without SourceArn and SourceAccount"
    if principal == "*" or (isinstance(principal, str) and "*" in principal):
        yield "wildcard-principal", f"permission for principal {principal!r}"


def _condition_keys(condition: Any) -> set[str]:
    """Lower-cased condition keys of a Condition block (``{operator: {key: value}}``)."""
    keys: set[str] = set()
    for operator in _branches(condition):
        if isinstance(operator, dict):
            for block in operator.values():
                if isinstance(block, dict):
                    keys |= {str(key).lower() for key in block}
    return keys


def _check_statement(statement: dict[str, Any], key_policy: bool, endpoint_policy: bool = False):
    if statement.get("Effect") != "Allow":
        return  # Deny statements (e.g. "deny s3:* without TLS") may be as broad as they like
    sid = statement.get("Sid", "?")
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        for service in _strings(principal.get("Service", [])):
            if "*" in service:
                yield "wildcard-principal", f"statement {sid} allows service principal {service!r}"
    if "NotAction" in statement:
        yield "wildcard-action", f"statement {sid} uses NotAction"
    actions = _strings(statement.get("Action", []))
    for action in actions:
        if "*" in action:
            yield "wildcard-action", f"statement {sid} allows {action!r}"
    if "NotResource" in statement:
        yield "wildcard-resource", f"statement {sid} uses NotResource"
    elif "Resource" not in statement:
        yield "wildcard-resource", f"statement {sid} names no Resource"
    if not key_policy and "*" in _strings(statement.get("Resource", [])):
        broad = sorted(a for a in actions if a not in RESOURCE_WILDCARD_ACTIONS)
        if broad:
            yield "wildcard-resource", f"statement {sid} grants {broad} on Resource '*'"
    anyone = principal == "*" or (isinstance(principal, dict) and "*" in _strings(principal.get("AWS", [])))
    if anyone and not statement.get("Condition") and not endpoint_policy:
        yield "public-principal", f"statement {sid} allows any principal"


def _statements(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    statements = document.get("Statement", [])
    for statement in _branches(statements if isinstance(statements, list) else [statements]):
        if isinstance(statement, dict):
            yield statement


# ----------------------------------------------------------------------------- data stores


def _check_bucket(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    if not rules:
        yield "unencrypted-store", "S3 bucket without BucketEncryption"
    else:
        default = (rules[0] or {}).get("ServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") not in ("aws:kms", "aws:kms:dsse") or not default.get("KMSMasterKeyID"):
            yield "no-customer-key", "S3 bucket not encrypted with a customer-managed KMS key"
    block = props.get("PublicAccessBlockConfiguration") or {}
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    if not all(_true(block.get(flag)) for flag in flags):
        yield "public-bucket", "S3 bucket without a full PublicAccessBlockConfiguration"
    if str(props.get("AccessControl", "")).startswith("Public") or "WebsiteConfiguration" in props:
        yield "public-bucket", f"S3 bucket is public ({props.get('AccessControl') or 'website'})"
    if (props.get("VersioningConfiguration") or {}).get("Status") != "Enabled":
        yield "unversioned-bucket", "S3 bucket without versioning"


def _check_table(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    sse = props.get("SSESpecification") or {}
    if not _true(sse.get("SSEEnabled")):
        yield "unencrypted-store", "DynamoDB table without SSESpecification.SSEEnabled"
    elif sse.get("SSEType") != "KMS" or not sse.get("KMSMasterKeyId"):
        yield "no-customer-key", "DynamoDB table on the AWS-owned/managed key (set SSEType KMS + KMSMasterKeyId)"
    if not _true((props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")):
        yield "no-point-in-time-recovery", "DynamoDB table without point-in-time recovery"


def _check_msk(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    transit = (props.get("EncryptionInfo") or {}).get("EncryptionInTransit") or {}
    if transit.get("ClientBroker", "TLS") != "TLS" or transit.get("InCluster", True) is False:
        yield "unencrypted-store", "MSK cluster allows plaintext in transit"
    auth = props.get("ClientAuthentication") or {}
    if _true((auth.get("Unauthenticated") or {}).get("Enabled")) or not auth:
        yield "unauthenticated-kafka", "MSK cluster accepts unauthenticated clients"
    at_rest = (props.get("EncryptionInfo") or {}).get("EncryptionAtRest") or {}
    if not at_rest.get("DataVolumeKMSKeyId"):
        yield "no-customer-key", "MSK cluster volumes on the default key (set EncryptionAtRest.DataVolumeKMSKeyId)"


def _check_serverless_msk(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    sasl = ((props.get("ClientAuthentication") or {}).get("Sasl") or {}).get("Iam") or {}
    if not _true(sasl.get("Enabled")):
        yield "unauthenticated-kafka", "MSK Serverless cluster without IAM auth"


def _check_topic(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if not props.get("KmsMasterKeyId"):
        yield "unencrypted-store", "SNS topic without KmsMasterKeyId"


def _check_queue(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if not props.get("KmsMasterKeyId") and not _true(props.get("SqsManagedSseEnabled")):
        yield "unencrypted-store", "SQS queue without SSE (SqsManagedSseEnabled or KmsMasterKeyId)"
    elif not props.get("KmsMasterKeyId"):
        yield "no-customer-key", "SQS queue on SQS-managed SSE (set KmsMasterKeyId)"


def _check_stream(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if not props.get("StreamEncryption"):
        yield "unencrypted-store", "Kinesis stream without StreamEncryption"


def _check_log_group(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "RetentionInDays" not in props:
        yield "unbounded-logs", "log group without RetentionInDays"
    if not props.get("KmsKeyId"):
        yield "unencrypted-store", "log group without KmsKeyId"


def _check_table_lifecycle(resource: dict[str, Any]) -> Iterator[tuple[str, str]]:
    props = resource.get("Properties") or {}
    if not _true(props.get("DeletionProtectionEnabled")):
        yield "unprotected-data", "DynamoDB table without DeletionProtectionEnabled"
    if resource.get("DeletionPolicy") not in ("Retain", "RetainExceptOnCreate", "Snapshot"):
        yield "unprotected-data", "DynamoDB table without DeletionPolicy Retain (a stack deletion drops it)"


def _check_repository(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if props.get("ImageTagMutability") != "IMMUTABLE":
        yield "mutable-image", "ECR repository with mutable tags (set ImageTagMutability IMMUTABLE)"
    if (props.get("EncryptionConfiguration") or {}).get("EncryptionType") != "KMS":
        yield "no-customer-key", "ECR repository not encrypted with KMS"


def _check_model(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    containers = [props.get("PrimaryContainer") or {}, *(_branches(props.get("Containers", [])))]
    for container in containers:
        if isinstance(container, dict) and "Image" in container and not _pinned(container["Image"]):
            yield "mutable-image", f"SageMaker model image {_text(container['Image'])!r} is not pinned by digest"
    if not _true(props.get("EnableNetworkIsolation")):
        yield "open-network", "SageMaker model without EnableNetworkIsolation"


def _check_function(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    image = (props.get("Code") or {}).get("ImageUri")
    if image is not None and not _pinned(image):
        yield "mutable-image", f"Lambda image {_text(image)!r} is not pinned by digest"


def _check_task_definition(props: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for container in _branches(props.get("ContainerDefinitions", [])):
        if isinstance(container, dict) and "Image" in container and not _pinned(container["Image"]):
            yield "mutable-image", f"ECS image {_text(container['Image'])!r} is not pinned by digest"


def _pinned(image: Any) -> bool:
    """An image reference that names a digest: ``...@sha256:<hex>`` or ``...@${DigestParameter}``."""
    text = _text(image)
    return "@sha256:" in text or "@${" in text


def _text(value: Any) -> str:
    """The literal text of a string, ``Fn::Sub`` or ``Fn::Join`` (intrinsics inside a join as ``${}``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(p if isinstance(p, str) else "${}" for p in parts)
    return ""


_STORE_CHECKS = {
    "AWS::S3::Bucket": _check_bucket,
    "AWS::DynamoDB::Table": _check_table,
    "AWS::MSK::Cluster": _check_msk,
    "AWS::MSK::ServerlessCluster": _check_serverless_msk,
    "AWS::SNS::Topic": _check_topic,
    "AWS::SQS::Queue": _check_queue,
    "AWS::Kinesis::Stream": _check_stream,
    "AWS::Logs::LogGroup": _check_log_group,
    "AWS::ECR::Repository": _check_repository,
    "AWS::SageMaker::Model": _check_model,
    "AWS::Lambda::Function": _check_function,
    "AWS::ECS::TaskDefinition": _check_task_definition,
}


# ----------------------------------------------------------------------------- intrinsic helpers


def _branches(items: Any) -> Iterator[Any]:
    """Items of a list, with both branches of any ``Fn::If`` expanded (``AWS::NoValue`` dropped)."""
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict) and "Fn::If" in item:
            _, when_true, when_false = item["Fn::If"]
            yield from _branches(when_true)
            yield from _branches(when_false)
        elif isinstance(item, dict) and item.get("Ref") == "AWS::NoValue":
            continue
        else:
            yield item


def _strings(value: Any) -> list[str]:
    """Literal strings of a string-or-list value (intrinsic functions are named resources, skipped)."""
    return [item for item in _branches(value) if isinstance(item, str)]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
