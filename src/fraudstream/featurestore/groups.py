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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, get_args

from fraudstream import features as F
from fraudstream.settings import Settings, get_settings

_SQL_TYPES: dict[type, str] = {int: "BIGINT", float: "DOUBLE", str: "STRING"}
_TYPE_NAMES: dict[type, str] = {int: "int", float: "float", str: "string"}
_SQL_TO_TYPE: dict[str, type] = {sql: dtype for dtype, sql in _SQL_TYPES.items()}


class Field(NamedTuple):
    """One typed attribute of a group's item: ``int`` (a count), ``float`` (a number) or ``str``."""

    name: str
    dtype: type

    @property
    def type_name(self) -> str:
        """``int`` / ``float`` / ``string`` (``featurestore describe``)."""
        return _TYPE_NAMES[self.dtype]

    @property
    def sql_type(self) -> str:
        """The column type in Flink and Spark SQL."""
        return _SQL_TYPES[self.dtype]


@dataclass(frozen=True)
class FeatureGroup:
    """One declaration per feature group (Feast's ``StreamFeatureView``): the entity key, the typed
    fields of its item, the window(s) they are computed over, the topic they come from and the event-time
    field. The names and window lengths are ``fraudstream.features``'s (the one definition both engines
    import); the DynamoDB item types, the Flink sink's key, the nightly records and the record checks
    below are derived from here."""

    key: str  # stable logical name used in code ("stream" / "batch" / "card_windows" / "merchant")
    table_setting: str  # the Settings attribute that holds the table name
    record_identifier: str  # the entity key: the table's hash key
    event_time_field: str  # a write never replaces an item with a later value of it
    features: tuple[Field, ...]  # the item's attributes besides the key (the event time included)
    windows: tuple[timedelta, ...]  # what the features aggregate over
    source_setting: str  # the Settings attribute naming the topic the group is computed from

    def table_name(self, settings: Settings | None = None) -> str:
        return getattr(settings or get_settings(), self.table_setting)

    def source_topic(self, settings: Settings | None = None) -> str:
        return getattr(settings or get_settings(), self.source_setting)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The item's values besides the key and the event time."""
        return tuple(f.name for f in self.features if f.name != self.event_time_field)


def _nightly_group(
    key: str, table_setting: str, entity: str, names: tuple[str, ...], days: Iterable[int]
) -> FeatureGroup:
    """A group the nightly job computes from the transactions (file or lake): its item holds the run's
    ``as_of`` (the event time) and one value per name, a window count (``features.NIGHTLY_COUNTS``) as int."""
    fields = (*(Field(name, int if name in F.NIGHTLY_COUNTS else float) for name in names), Field("as_of", str))
    windows = tuple(timedelta(days=d) for d in days)
    return FeatureGroup(
        key=key,
        table_setting=table_setting,
        record_identifier=entity,
        event_time_field="as_of",
        features=fields,
        windows=windows,
        source_setting="topic_transactions",
    )


STREAM_GROUP = FeatureGroup(
    key="stream",
    table_setting="table_agg",
    record_identifier="cc_num",
    event_time_field="trans_time",
    features=(
        *(Field(a.name, _SQL_TO_TYPE[a.sql_type]) for a in F.STREAM_AGGREGATES),
        Field("trans_time", str),
        Field("tid", str),
    ),
    windows=(F.STREAM_WINDOW,),
    source_setting="topic_agg",
)
"""Per card, the latest ``cc-agg`` record's 10-minute window (the agg-writer; ``features.STREAM_AGGREGATES``)."""

BATCH_GROUP = _nightly_group("batch", "table_batch", "cc_num", F.BATCH_FEATURES, [F.BATCH_WINDOW_DAYS])
"""Per card, the nightly 1-week count and mean amount (DESIGN.md)."""

CARD_WINDOWS_GROUP = _nightly_group(
    "card_windows",
    "table_card_windows",
    "cc_num",
    (*(n for pair in F.CARD_WINDOWS.values() for n in pair), *F.CARD_AMOUNT_PROFILE),
    F.CARD_WINDOWS,
)
"""Per card, count and mean amount over 1 / 7 / 30 days and the 30-day amount profile (deviation and
maximum; issue 15): an item per card active in 30 days."""

MERCHANT_GROUP = _nightly_group("merchant", "table_merchant", "merchant", F.MERCHANT_FEATURES, F.MERCHANT_WINDOWS)
"""Per merchant, the nightly count and fraud risk over 1 / 7 / 30 days (label-delayed: ``features.LabelDelayRule``,
with the labels topic) and the known-fraud counts over the same days (issue 15)."""

NIGHTLY_GROUPS: tuple[FeatureGroup, ...] = (CARD_WINDOWS_GROUP, MERCHANT_GROUP)
"""The issue-15 groups: written by the nightly load, read by the scorer when the served set uses them."""
FEATURE_GROUPS: tuple[FeatureGroup, ...] = (STREAM_GROUP, BATCH_GROUP, *NIGHTLY_GROUPS)
CARD_GROUPS: tuple[FeatureGroup, ...] = (STREAM_GROUP, BATCH_GROUP)
"""The groups keyed by card (``featurestore get`` and ``batch_get`` of cards read these)."""


def _base_type(annotation: Any) -> Any:
    """``int`` of ``int``, ``float`` of ``float | None``; anything else as it is."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def check_record_types(record: str, types: Mapping[str, Any], group: FeatureGroup) -> None:
    """Fail at import when a record that carries ``group``'s values (``types``: field -> annotation) lacks
    one of them or gives it another type than the group declares: the group is where they change."""
    for field in (Field(group.record_identifier, str), *group.features):
        if field.name == group.event_time_field:
            continue  # a time is text in the store, a datetime or text in a record
        if field.name not in types or _base_type(types[field.name]) is not field.dtype:
            raise TypeError(
                f"{record}.{field.name} must be {field.dtype.__name__} as featurestore.groups declares "
                f"for {group.key!r}, got {types.get(field.name)!r}"
            )


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
