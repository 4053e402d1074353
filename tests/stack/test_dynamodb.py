"""Put and get an item in DynamoDB Local through boto3 with ``endpoint_url``."""

import boto3
import pytest

from fraudstream.settings import Settings

pytestmark = pytest.mark.integration


def test_put_and_get_item(isolated_tables: Settings, dynamodb_endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="other",  # -sharedDb: any credentials see the same tables
        aws_secret_access_key="other",
    )
    table = isolated_tables.table_agg
    item = {
        "cc_num": {"S": "4000123412341234"},
        "num_trans_last_10m": {"N": "3"},
        "avg_amt_last_10m": {"N": "42.5"},
        "trans_time": {"S": "2020-01-01T00:00:05.123Z"},
    }
    client.put_item(TableName=table, Item=item)
    got = client.get_item(TableName=table, Key={"cc_num": {"S": "4000123412341234"}}, ConsistentRead=True)
    assert got["Item"] == item
    missing = client.get_item(TableName=table, Key={"cc_num": {"S": "4999999999999999"}})
    assert "Item" not in missing


def test_default_tables_exist(settings: Settings, dynamodb_endpoint: str) -> None:
    from fraudstream.aws_clients import dynamodb_client

    names = dynamodb_client(settings).list_tables()["TableNames"]
    assert {settings.table_agg, settings.table_batch} <= set(names)
