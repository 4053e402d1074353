"""What the scorer, the agg-writer, the nightly load and the replay need from an online feature store.

Why a ``Protocol``: those callers held the store as ``Any``, so nothing said which operations they
rely on, and a second implementation (another key-value store, or an in-memory one for a notebook)
had nothing to implement against. ``DynamoFeatureStore`` is the one implementation (Feast keeps the
same split: an ``OnlineStore`` interface, DynamoDB as one implementation with its own config).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from fraudstream.featurestore.dynamodb_store import PutOutcome, PutSummary, WriteMethod
    from fraudstream.featurestore.groups import FeatureGroup

Record = dict[str, Any]
"""One feature record: the group's key field, ``event_time`` and the feature values."""


@runtime_checkable
class OnlineStore(Protocol):
    """Newer-wins writes and consistent point reads of the feature groups, plus the batch version."""

    def put_record(self, group: FeatureGroup | str, record: Mapping[str, Any]) -> bool:
        """Write unless a later record of the key is stored (equal event time overwrites)."""
        ...

    def put_many(
        self, group: FeatureGroup | str, records: Sequence[Mapping[str, Any]], method: WriteMethod | None = None
    ) -> list[PutOutcome]:
        """``put_record`` for many records: one outcome per record, in order."""
        ...

    def put_records(
        self, group: FeatureGroup | str, records: Iterable[Mapping[str, Any]], method: WriteMethod | None = None
    ) -> PutSummary:
        """``put_many`` summed up (written, skipped, failed)."""
        ...

    def get_record(self, group: FeatureGroup | str, cc_num: str) -> Record | None:
        """The stored record of one key, or None."""
        ...

    def batch_get_keys(self, keys: Mapping[FeatureGroup, Iterable[str]]) -> dict[str, dict[str, Record | None]]:
        """``{group key: {record key: record or None}}`` for keys of several groups, in as few requests as it can."""
        ...

    def scan_records(self, group: FeatureGroup | str) -> Iterator[Record]:
        """Every record of a group (metadata items left out)."""
        ...

    def mark_batch_version(self, reason: str) -> str:
        """Record that the batch group was rewritten (after its items are written); returns the new version."""
        ...

    def read_batch_version(self) -> str | None:
        """The current batch version (what the scorer's cache compares), or None before the first load."""
        ...
