"""CloudFormation custom resource (``Custom::KafkaTopics``): create the topics and return the addresses.

Runs as a Lambda inside the VPC. MSK has no CloudFormation topic resource and its bootstrap
string is not a ``GetAtt``, so this function asks the MSK API for the IAM bootstrap brokers,
creates the missing topics with the Kafka admin API (IAM auth), and returns what the rest of the
stack names in its policies: the cluster ARN and the topic/group ARN prefixes.
Delete keeps the topics (the cluster is deleted with the stack anyway).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from fraudstream.kafka_auth import MSK_IAM
from fraudstream.settings import get_settings

log = logging.getLogger(__name__)


def arn_prefixes(cluster_arn: str) -> dict[str, str]:
    """``arn:...:cluster/NAME/UUID`` -> topic and group ARN prefixes (``.../topic/NAME/UUID``)."""
    head, _, path = cluster_arn.partition(":cluster/")
    if not path or path.count("/") != 1:
        raise ValueError(f"not an MSK cluster ARN: {cluster_arn!r}")
    return {"TopicArnPrefix": f"{head}:topic/{path}", "GroupArnPrefix": f"{head}:group/{path}"}


def create_topics(bootstrap: str, topics: list[str], partitions: int, region: str) -> list[str]:
    """Create the topics that do not exist yet with ``kafka_clients.ensure_topics`` over IAM auth
    (replication factor: the cluster default; log-append time on the verdict path's topics)."""
    from fraudstream.kafka_clients import ensure_topics

    settings = get_settings().model_copy(
        update={"kafka_bootstrap_override": bootstrap, "kafka_auth": MSK_IAM, "aws_region": region}
    )
    return ensure_topics(settings, tuple(topics), partitions, timeout=60, replication_factor=-1)


def bootstrap_brokers(cluster_arn: str, region: str) -> str:
    import boto3

    response = boto3.client("kafka", region_name=region).get_bootstrap_brokers(ClusterArn=cluster_arn)
    brokers = response.get("BootstrapBrokerStringSaslIam")
    if not brokers:
        raise RuntimeError(f"cluster {cluster_arn} has no IAM bootstrap brokers (is IAM auth enabled?)")
    return brokers


def handler(event: dict[str, Any], context: Any) -> None:
    """Custom resource entry point: always answers CloudFormation, success or failure."""
    props = event.get("ResourceProperties", {})
    cluster_arn = props.get("ClusterArn", "")
    physical_id = event.get("PhysicalResourceId") or f"kafka-topics-{cluster_arn.rsplit('/', 1)[-1]}"
    try:
        region = get_settings().aws_region
        data: dict[str, str] = {"ClusterArn": cluster_arn, **arn_prefixes(cluster_arn)}
        if event["RequestType"] in ("Create", "Update"):
            data["BootstrapServers"] = bootstrap_brokers(cluster_arn, region)
            topics = list(props.get("Topics", []))
            created = create_topics(data["BootstrapServers"], topics, int(props.get("Partitions", 4)), region)
            log.info("created topics %s", created)
            data["Topics"] = ",".join(topics)
        _respond(event, context, "SUCCESS", physical_id, data)
    except Exception as exc:  # CloudFormation waits for an answer: never leave it hanging
        log.exception("custom resource failed")
        _respond(event, context, "FAILED", physical_id, {}, reason=f"{exc.__class__.__name__}: {exc}")


def _respond(event: dict, context: Any, status: str, physical_id: str, data: dict, reason: str = "") -> None:
    log_stream = getattr(context, "log_stream_name", "") if context is not None else ""
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or f"see CloudWatch log stream {log_stream}")[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
