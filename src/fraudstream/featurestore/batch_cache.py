"""The fraud-scorer's in-process cache of the 1-week features, valid for one *batch version*.

Why: the 1-week features (``cc-agg-batch-fg``) change once a night, yet the scorer used to read
them with one BatchGetItem per batch; those store round trips were most of a batch's time
(1,792 tx/s at batch 100). Cards recur (10,000 cards, thousands of transactions a second), so
almost every read is one the scorer has already made.

How it stays correct: writers of the batch group (the nightly load, replay seeding) write their
items first and then a new version into the group's marker item
(:meth:`~fraudstream.featurestore.dynamodb_store.DynamoFeatureStore.mark_batch_version`). The cache
holds entries read under one version and re-reads the marker (one GetItem) at most every
``check_interval_s``; when the version changed, every entry is dropped and the cards are read
again. An entry read while a writer was still writing belongs to the old version, so it is dropped
as soon as the new version is seen; an entry read after the new version was seen was read after
the writer finished. A card's features are therefore at most ``check_interval_s`` (plus one
GetItem) older than the store's, where an uncached read is as old as its batch.

With ``background=True`` (what the scorer uses) the marker is read by a daemon thread every
``check_interval_s`` and the scoring path only compares the last version read: a slow store (the
marker read took up to 0.85 s against a DynamoDB Local busy with the agg-writer's writes) then never
stalls a verdict. The argument above holds unchanged, with "seen" meaning "read by the thread".

**Prefetch** (``prefetch_max_cards`` > 0, background mode): every time the watcher sees a batch
version it has not read yet (the scorer's first batch, each nightly load, each replay seeding) it
reads the whole batch group with one consistent Scan, up to ``prefetch_max_cards`` cards, and hands
the result to the scoring path, which merges it on its next call under that same version. Why:
after a nightly run every card's first transaction was a cache miss, so at hundreds of
transactions a second the scorer queued behind store reads for seconds (the demo's live traffic on
a fresh cache: p99 3.2 s). The argument above holds for the scan too: it starts after its version
was read, so it holds that version's items or newer ones, and a result tagged with a version the
scorer has already left is discarded. When the scan read the whole group, a card missing from it
has no item under that version: it is answered "no history" without a store read.

The other nightly groups (card windows, merchants; written by the same nightly load before it marks
the version) are cached beside the cards, keyed ``(group.key, key)``, and read in the same
BatchGetItem as the cards they come with (:meth:`BatchFeatureCache.get_groups`); the whole-group
prefetch covers the 1-week group only.

A card with no item is cached too (``None``: no history → the scorer's ratios are missing), so
unknown cards do not cost a read per batch either. The cache holds at most ``max_cards`` cards
(least recently used evicted; ~0.5 KB a card); ``max_cards = 0`` turns it off (every call reads
the store, as before). Store failures propagate (the scorer's batch is retried); nothing is cached
from a failed read.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fraudstream.featurestore.groups import BATCH_GROUP, FeatureGroup

if TYPE_CHECKING:
    from fraudstream.featurestore.online_store import OnlineStore

_UNSET = object()
log = logging.getLogger(__name__)


def _entry_key(group: FeatureGroup, key: str) -> Any:
    """A card of the 1-week group is cached under its number (as ever); other groups' keys are tagged."""
    return key if group is BATCH_GROUP else (group.key, key)


@dataclass
class CacheStats:
    """Counters since the cache was created."""

    hits: int = 0
    misses: int = 0
    store_reads: int = 0  # BatchGetItem calls (through ``store.batch_get``) for missing cards
    version_checks: int = 0  # GetItem calls of the version marker
    invalidations: int = 0  # version changes seen (the cache was cleared)
    evictions: int = 0  # cards dropped to stay within max_cards
    prefetch_scans: int = 0  # whole-group Scans by the watcher (one per batch version seen)
    prefetched: int = 0  # cards merged from those scans


@dataclass(frozen=True)
class Prefetch:
    """One whole-group scan: the version it was read under, the cards found, and whether it read them all."""

    version: Any
    records: dict[str, dict[str, Any]]
    complete: bool


class BatchFeatureCache:
    """Per-card 1-week features (or None) read under the current batch version; see the module doc."""

    def __init__(
        self,
        store: OnlineStore,
        check_interval_s: float = 1.0,
        max_cards: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
        prefetch_max_cards: int = 0,
    ) -> None:
        if check_interval_s < 0:
            raise ValueError("check_interval_s must not be negative")
        if max_cards < 0:
            raise ValueError("max_cards must not be negative")
        self.store = store
        self.check_interval_s = check_interval_s
        self.max_cards = max_cards
        self.clock = clock
        self.stats = CacheStats()
        self._entries: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self._version: Any = _UNSET  # the batch version the entries were read under
        self._checked_at = float("-inf")
        self.background = background
        self._observed: Any = _UNSET  # the newest version the background thread read
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.prefetch_max_cards = min(max(0, prefetch_max_cards), max_cards) if background else 0
        self._prefetched: Prefetch | None = None  # handed from the watcher to the scoring path
        self._complete_for: Any = _UNSET  # the version whose every item is cached (a whole-group scan)

    @property
    def enabled(self) -> bool:
        return self.max_cards > 0

    @property
    def version(self) -> str | None:
        """The batch version the cached entries belong to (None: no marker in the store yet)."""
        return None if self._version is _UNSET else self._version

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, cc_num: object) -> bool:
        return cc_num in self._entries

    def clear(self) -> None:
        """Forget every entry (the next call reads the version and the cards again)."""
        self._entries.clear()
        self._version = _UNSET
        self._checked_at = float("-inf")
        self._complete_for = _UNSET

    def close(self) -> None:
        """Stop the background version watcher (if any)."""
        self._stop.set()

    def _prefetch_if_new(self, prefetched_for: Any) -> Any:
        """Scan the group when the watcher sees a version it has not scanned; returns the version scanned."""
        version = self._observed
        if self.prefetch_max_cards and version is not _UNSET and version != prefetched_for:
            try:
                self._prefetched = self._scan(version)
                return version
            except Exception as exc:  # the scoring path still reads through: nothing is wrong, only slower
                log.warning("batch group prefetch failed (%s); retrying in %.1fs", exc, self.check_interval_s)
        return prefetched_for

    def _observe(self) -> None:
        try:
            self._observed = self.store.read_batch_version()
            self.stats.version_checks += 1
        except Exception as exc:  # store unreachable: keep serving the version already seen
            log.warning("batch version check failed (%s); retrying in %.1fs", exc, self.check_interval_s)

    def _scan(self, version: Any) -> Prefetch:
        """The batch group's cards read after ``version`` was seen (at most ``prefetch_max_cards``)."""
        key = BATCH_GROUP.record_identifier
        records: dict[str, dict[str, Any]] = {}
        complete = True
        for record in self.store.scan_records(BATCH_GROUP):
            if len(records) >= self.prefetch_max_cards:
                complete = False
                break
            records[record[key]] = record
        self.stats.prefetch_scans += 1
        return Prefetch(version, records, complete)

    def _merge_prefetch(self) -> None:
        """Take the watcher's scan when it was made under the version the entries belong to."""
        handoff = self._prefetched
        if handoff is None or handoff.version != self._version:
            return
        self._prefetched = None
        entries = self._entries
        for card, record in handoff.records.items():
            if card not in entries:
                entries[card] = record
        self.stats.prefetched += len(handoff.records)
        if handoff.complete:
            self._complete_for = handoff.version
        self._evict()

    def _apply(self, version: Any) -> None:
        if version != self._version:
            if self._version is not _UNSET:
                self.stats.invalidations += 1
            self._entries.clear()
            self._version = version

    def _check_version(self) -> None:
        if self.background:
            if self._version is _UNSET:  # first use: read once here, then the thread keeps watching
                self._apply(self.store.read_batch_version())
                self.stats.version_checks += 1
                self._observed = self._version
                if self._watcher is None:
                    self._watcher = threading.Thread(
                        target=_watch,
                        args=(weakref.ref(self), self._stop, self.check_interval_s),
                        name="batch-version-watch",
                        daemon=True,
                    )
                    self._watcher.start()
            elif self._observed is not _UNSET:
                self._apply(self._observed)
            return
        started = self.clock()
        if started - self._checked_at < self.check_interval_s and self._version is not _UNSET:
            return
        version = self.store.read_batch_version()  # raises on a store outage: the batch is retried
        self.stats.version_checks += 1
        if version != self._version:
            if self._version is not _UNSET:
                self.stats.invalidations += 1
            self._entries.clear()
            self._version = version
        self._checked_at = started  # the marker read is at least as new as when it was sent

    def get_many(self, cc_nums: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """``{cc_num: 1-week features or None}`` for every distinct card, from the cache or one store read."""
        return self.get_groups({BATCH_GROUP: cc_nums})[BATCH_GROUP.key]

    def get_groups(
        self, keys: Mapping[FeatureGroup, Iterable[str | None]]
    ) -> dict[str, dict[str, dict[str, Any] | None]]:
        """``{group.key: {key: item or None}}`` of nightly groups (the 1-week group, the card windows,
        the merchants), cached under one batch version; falsy keys (a record without a merchant) are skipped.

        Whatever is not cached is read with ONE ``batch_get_keys`` over all the tables: the nightly
        load writes every group before it marks the version, so one version covers them all. An
        unknown key is cached as None (no history), like a new card.
        """
        wanted = {group: [k for k in dict.fromkeys(group_keys) if k] for group, group_keys in keys.items()}
        total = sum(len(v) for v in wanted.values())
        if not self.enabled:
            self.stats.misses += total
            self.stats.store_reads += bool(total)
            return self.store.batch_get_keys(wanted) if total else {g.key: {} for g in wanted}
        if not total:
            return {g.key: {} for g in wanted}
        self._check_version()
        if self._prefetched is not None:
            self._merge_prefetch()
        entries = self._entries
        found: dict[Any, dict[str, Any] | None] = {}
        missing: dict[FeatureGroup, list[str]] = {}
        for group, group_keys in wanted.items():
            for key in group_keys:
                entry = _entry_key(group, key)
                value = entries.get(entry, _UNSET)
                if value is _UNSET:
                    missing.setdefault(group, []).append(key)
                else:
                    entries.move_to_end(entry)
                    found[entry] = value  # type: ignore[assignment]
        n_missing = sum(len(v) for v in missing.values())
        self.stats.hits += total - n_missing
        if n_missing:
            self.stats.misses += n_missing
            read: dict[str, dict[str, dict[str, Any] | None]] = {}
            if BATCH_GROUP in missing and self._complete_for is not _UNSET and self._complete_for == self._version:
                read[BATCH_GROUP.key] = dict.fromkeys(missing.pop(BATCH_GROUP))  # not in the whole-group scan
            if missing:
                self.stats.store_reads += 1
                read |= self.store.batch_get_keys(missing)
            for group_key, items in read.items():
                group = next(g for g in wanted if g.key == group_key)
                for key, value in items.items():
                    entries[_entry_key(group, key)] = value
                    found[_entry_key(group, key)] = value
            self._evict()
        return {g.key: {k: found[_entry_key(g, k)] for k in group_keys} for g, group_keys in wanted.items()}

    def _evict(self) -> None:
        overflow = len(self._entries) - self.max_cards
        if overflow > 0:
            for _ in range(overflow):
                self._entries.popitem(last=False)
            self.stats.evictions += overflow
            self._complete_for = _UNSET  # an evicted card is no longer "absent unless cached"


def _watch(ref: weakref.ref[BatchFeatureCache], stop: threading.Event, interval: float) -> None:
    """The watcher's loop. It holds its cache only while it works on it, so a cache nobody uses any more
    (a scorer's resources dropped without ``close()``) ends its thread instead of polling a store forever."""
    prefetched_for: Any = _UNSET
    while True:
        cache = ref()
        if cache is None:
            return
        prefetched_for = cache._prefetch_if_new(prefetched_for)
        del cache
        if stop.wait(interval):
            return
        cache = ref()
        if cache is None:
            return
        cache._observe()
        del cache
