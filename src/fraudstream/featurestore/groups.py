"""Feature groups declared once: name, record identifier, event-time field and features.

Each group is one DynamoDB table keyed by the record identifier (``cc_num``, or ``merchant`` for the
merchant group); every item carries its event time so that a write can refuse to move a feature back
in time.

The nightly card windows (1 / 7 / 30 days) are a group of their own (``cc-windows-fg``) rather than
more attributes of the 1-week item: their item must exist for every card active in 30 days, where
the 1-week group's rules (an item per card active in the week, an empty item when the week empties)
are what the seed's scorer, its cache prefetch and its tests rely on. A separate table keeps those
unchanged, and costs no round trip: the scorer reads it in the same BatchGetItem, and only when the
served feature set uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraudstream import features as F
from fraudstream.settings import Settings, get_settings


@dataclass(frozen=True)
class FeatureGroup:
    """A feature group: one table, one record identifier, one event-time field."""

    key: str  # stable logical name used in code ("stream" / "batch")
    table_setting: str  # the Settings attribute that holds the table name
    record_identifier: str
    event_time_field: str
    features: tuple[tuple[str, str], ...]  # (name, type) pairs: "int", "float", "string"

    def table_name(self, settings: Settings | None = None) -> str:
        return getattr(settings or get_settings(), self.table_setting)


STREAM_GROUP = FeatureGroup(
    key="stream",
    table_setting="table_agg",
    record_identifier="cc_num",
    event_time_field="trans_time",
    features=(
        (F.NUM_TRANS_LAST_10M, "int"),
        (F.AVG_AMT_LAST_10M, "float"),
        (F.MAX_AMT_LAST_10M, "float"),
        ("trans_time", "string"),
        ("tid", "string"),
    ),
)

BATCH_GROUP = FeatureGroup(
    key="batch",
    table_setting="table_batch",
    record_identifier="cc_num",
    event_time_field="as_of",
    features=((F.NUM_TRANS_LAST_1W, "int"), (F.AVG_AMT_LAST_1W, "float"), ("as_of", "string")),
)


def _nightly_features(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return (*((name, "int" if name in F.NIGHTLY_COUNTS else "float") for name in names), ("as_of", "string"))


CARD_WINDOWS_GROUP = FeatureGroup(
    key="card_windows",
    table_setting="table_card_windows",
    record_identifier="cc_num",
    event_time_field="as_of",
    features=_nightly_features(tuple(name for pair in F.CARD_WINDOWS.values() for name in pair)),
)
"""Per card, count and mean amount over 1 / 7 / 30 days (issue 15): an item per card active in 30 days."""

MERCHANT_GROUP = FeatureGroup(
    key="merchant",
    table_setting="table_merchant",
    record_identifier="merchant",
    event_time_field="as_of",
    features=_nightly_features(F.MERCHANT_FEATURES),
)
"""Per merchant, the nightly count and fraud risk over 1 / 7 / 30 days (label-delayed; issue 15)."""

NIGHTLY_GROUPS: tuple[FeatureGroup, ...] = (CARD_WINDOWS_GROUP, MERCHANT_GROUP)
"""The issue-15 groups: written by the nightly load, read by the scorer when the served set uses them."""
FEATURE_GROUPS: tuple[FeatureGroup, ...] = (STREAM_GROUP, BATCH_GROUP, *NIGHTLY_GROUPS)
CARD_GROUPS: tuple[FeatureGroup, ...] = (STREAM_GROUP, BATCH_GROUP)
"""The groups keyed by card (``featurestore get`` and ``batch_get`` of cards read these)."""


def create_table(client: Any, name: str, group: FeatureGroup) -> bool:
    """Create one group's table unless it exists (idempotent); True when this call created it."""
    try:
        client.describe_table(TableName=name)
        return False
    except client.exceptions.ResourceNotFoundException:
        pass
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": group.record_identifier, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": group.record_identifier, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return True


def ensure_tables(settings: Settings | None = None, client=None) -> list[str]:
    """Create the feature-group tables that do not exist yet (idempotent); returns those created."""
    from fraudstream.aws_clients import dynamodb_client

    settings = settings or get_settings()
    client = client or dynamodb_client(settings)
    existing = set(client.list_tables().get("TableNames", []))
    return [
        group.table_name(settings)
        for group in FEATURE_GROUPS
        if group.table_name(settings) not in existing and create_table(client, group.table_name(settings), group)
    ]
