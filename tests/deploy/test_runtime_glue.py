"""The small runtime pieces the deployed stack relies on: the topics custom resource's answer to
CloudFormation, the MSK IAM client config, CLI parameter parsing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import typer

from fraudstream.cli.deploy import _parse_params
from fraudstream.deploy.topics_resource import arn_prefixes, handler
from fraudstream.kafka_auth import auth_config

CLUSTER = "arn:aws:kafka:eu-west-1:123456789012:cluster/fs-msk/1a2b3c4d-5e6f-7a8b-9c0d-e1f2a3b4c5d6-s1"


def test_arn_prefixes_follow_the_msk_arn_format():
    assert arn_prefixes(CLUSTER) == {
        "TopicArnPrefix": "arn:aws:kafka:eu-west-1:123456789012:topic/fs-msk/1a2b3c4d-5e6f-7a8b-9c0d-e1f2a3b4c5d6-s1",
        "GroupArnPrefix": "arn:aws:kafka:eu-west-1:123456789012:group/fs-msk/1a2b3c4d-5e6f-7a8b-9c0d-e1f2a3b4c5d6-s1",
    }
    with pytest.raises(ValueError):
        arn_prefixes("arn:aws:s3:::bucket")


@pytest.fixture
def response_server():
    """A local HTTP server standing in for CloudFormation's pre-signed response URL."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 (http.server naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response", received
    server.shutdown()


def _event(url: str, request_type: str, cluster: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "stack-id",
        "RequestId": "req-1",
        "LogicalResourceId": "KafkaTopics",
        "ResourceProperties": {"ClusterArn": cluster, "Topics": ["cc-agg"], "Partitions": "4"},
    }


def test_custom_resource_delete_succeeds_and_keeps_the_physical_id(response_server):
    url, received = response_server
    event = _event(url, "Delete", CLUSTER) | {"PhysicalResourceId": "kafka-topics-x"}
    handler(event, None)
    assert received[0]["Status"] == "SUCCESS"
    assert received[0]["PhysicalResourceId"] == "kafka-topics-x"
    assert received[0]["Data"]["TopicArnPrefix"].endswith(":topic/fs-msk/1a2b3c4d-5e6f-7a8b-9c0d-e1f2a3b4c5d6-s1")


def test_custom_resource_always_answers_even_on_failure(response_server):
    url, received = response_server
    handler(_event(url, "Create", "not-an-arn"), None)
    assert received[0]["Status"] == "FAILED"
    assert "not an MSK cluster ARN" in received[0]["Reason"]


def test_msk_iam_auth_config():
    assert auth_config("none", "us-east-1") == {}
    cfg = auth_config("msk-iam", "us-east-1")
    assert cfg["security.protocol"] == "SASL_SSL" and cfg["sasl.mechanisms"] == "OAUTHBEARER"
    assert callable(cfg["oauth_cb"])
    with pytest.raises(ValueError):
        auth_config("kerberos", "us-east-1")


def test_cli_params_parse_pairs():
    assert _parse_params(["KafkaMode=none", "A=1 B=x=y"]) == {"KafkaMode": "none", "A": "1", "B": "x=y"}
    with pytest.raises(typer.BadParameter):
        _parse_params(["novalue"])


def test_flink_kafka_properties_in_the_template_parse_with_the_jaas_terminator():
    """The Managed Flink runtime properties reach JobConfig intact, `;` ending the JAAS config included."""
    from fraudstream.deploy.deployer import templates_dir
    from fraudstream.deploy.policy import load_template
    from fraudstream.streaming.config import JobConfig

    app = load_template(templates_dir() / "fraudstream.yaml")["Resources"]["FlinkApplication"]
    groups = app["Properties"]["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
    (props,) = [g["PropertyMap"]["kafka_properties"] for g in groups if "kafka_properties" in g["PropertyMap"]]
    pairs = dict(JobConfig(bootstrap_servers="b-1:9098", kafka_properties=props).kafka_property_pairs())
    assert pairs["sasl.jaas.config"] == "software.amazon.msk.auth.iam.IAMLoginModule required;"
    assert pairs["security.protocol"] == "SASL_SSL" and pairs["sasl.mechanism"] == "AWS_MSK_IAM"
