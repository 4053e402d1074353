"""DynamoFeatureStore implements the OnlineStore protocol the callers are typed against."""

from __future__ import annotations

import inspect

from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.online_store import OnlineStore

PROTOCOL_METHODS = [n for n, v in vars(OnlineStore).items() if callable(v) and not n.startswith("_")]


def test_dynamo_store_is_an_online_store() -> None:
    store = DynamoFeatureStore.__new__(DynamoFeatureStore)  # no client needed to check the shape
    assert isinstance(store, OnlineStore)
    assert {"put_many", "batch_get_keys", "read_batch_version"} <= set(PROTOCOL_METHODS)


def test_every_protocol_method_has_the_implementations_parameters() -> None:
    for name in PROTOCOL_METHODS:
        wanted = list(inspect.signature(getattr(OnlineStore, name)).parameters)
        actual = list(inspect.signature(getattr(DynamoFeatureStore, name)).parameters)
        assert actual == wanted, f"{name}: protocol {wanted} vs DynamoFeatureStore {actual}"


def test_an_object_missing_a_method_is_not_an_online_store() -> None:
    class Partial:
        def put_record(self, group, record):  # noqa: ANN001, ANN202
            return True

    assert not isinstance(Partial(), OnlineStore)
