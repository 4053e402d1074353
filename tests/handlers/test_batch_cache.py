"""The scorer's versioned cache of the 1-week features against DynamoDB Local (requests counted on the real client)."""

from __future__ import annotations

from collections import Counter

import pytest
from botocore.exceptions import ClientError

from fraudstream.batch.nightly import load_records
from fraudstream.featurestore.batch_cache import BatchFeatureCache
from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore
from fraudstream.featurestore.groups import BATCH_GROUP

pytestmark = pytest.mark.integration
A, B, C, D = "4300000000000001", "4300000000000002", "4300000000000003", "4300000000000004"
NIGHT1, NIGHT2 = "2020-03-02T00:00:00.000Z", "2020-03-03T00:00:00.000Z"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def week(card: str, n: int, as_of: str = NIGHT1) -> dict:
    return {"cc_num": card, "num_trans_last_1w": n, "avg_amt_last_1w": 10.0 * n, "as_of": as_of}


def counted_store(settings) -> tuple[DynamoFeatureStore, Counter]:
    """A store whose real client counts every request by operation (a botocore event hook)."""
    store = DynamoFeatureStore(settings)
    calls: Counter = Counter()
    store.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return store, calls


def test_second_batch_is_served_without_a_store_read(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    store.put_records(BATCH_GROUP, [week(A, 4), week(B, 7)])
    store.mark_batch_version("test")
    calls.clear()
    clock = Clock()
    cache = BatchFeatureCache(store, check_interval_s=1.0, clock=clock)

    first = cache.get_many([A, B, C, A])
    assert first[A]["num_trans_last_1w"] == 4 and first[B]["avg_amt_last_1w"] == 70.0
    assert first[C] is None  # no item: cached as "no history" too
    assert calls == {"GetItem": 1, "BatchGetItem": 1}  # the version marker, then the three cards at once

    calls.clear()
    clock.now += 0.5
    assert cache.get_many([C, B, A]) == first
    assert calls == {}  # hits only, the version checked less than a second ago
    clock.now += 0.6
    assert cache.get_many([A, C]) == {A: first[A], C: None}
    assert calls == {"GetItem": 1}  # only the version marker, unchanged
    assert (cache.stats.hits, cache.stats.misses, cache.stats.store_reads) == (5, 3, 1)


def test_a_new_batch_version_invalidates_within_the_check_interval(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    store.put_records(BATCH_GROUP, [week(A, 4)])
    clock = Clock()
    cache = BatchFeatureCache(store, check_interval_s=1.0, clock=clock)
    assert cache.get_many([A, C]) == {A: week(A, 4), C: None}
    assert cache.version is None  # nothing marked yet: a valid version of its own

    # the nightly load writes the new night (A changes, C gets history) and marks a version after its puts
    counts = load_records(store, [week(A, 9, NIGHT2), week(C, 2, NIGHT2)], label="nightly 2020-03-03")
    assert counts["written"] == 2
    calls.clear()
    clock.now += 0.4
    assert cache.get_many([A, C]) == {A: week(A, 4), C: None}  # within the interval: the old night, no request
    assert calls == {}
    clock.now += 0.6
    assert cache.get_many([A, C]) == {A: week(A, 9, NIGHT2), C: week(C, 2, NIGHT2)}
    assert calls == {"GetItem": 1, "BatchGetItem": 1}
    assert cache.version == counts["batch_version"] and cache.stats.invalidations == 1

    # a replay's seeding marks a version the same way; a card cached as unknown then gets its history
    clock.now += 0.1
    assert cache.get_many([D]) == {D: None}
    store.put_record(BATCH_GROUP, week(D, 5, NIGHT2))
    assert cache.get_many([D]) == {D: None}  # not marked: the cached "no history" stands
    store.mark_batch_version("replay seed")
    clock.now += 1.0
    assert cache.get_many([D, A]) == {D: week(D, 5, NIGHT2), A: week(A, 9, NIGHT2)}
    assert cache.stats.invalidations == 2


def test_the_cache_holds_at_most_max_cards(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    cards = [f"43000000000001{i:02d}" for i in range(6)]
    store.put_records(BATCH_GROUP, [week(c, i + 1) for i, c in enumerate(cards)])
    cache = BatchFeatureCache(store, check_interval_s=60.0, max_cards=3)
    cache.get_many(cards[:3])
    cache.get_many([cards[0]])  # cards[0] is now the most recently used
    calls.clear()
    found = cache.get_many(cards[3:5])  # two more: the two least recently used go
    assert [found[c]["num_trans_last_1w"] for c in cards[3:5]] == [4, 5]
    assert len(cache) == 3 and set(cards[0:1] + cards[3:5]) == {c for c in cards if c in cache}
    assert cache.stats.evictions == 2 and calls == {"BatchGetItem": 1}
    big = cache.get_many(cards)  # more cards than fit in one call: all answered, the newest kept
    assert [big[c]["num_trans_last_1w"] for c in cards] == [1, 2, 3, 4, 5, 6] and len(cache) == 3


def test_max_cards_zero_reads_the_store_every_time(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    store.put_records(BATCH_GROUP, [week(A, 4)])
    cache = BatchFeatureCache(store, max_cards=0)
    calls.clear()
    for _ in range(3):
        assert cache.get_many([A, B]) == {A: week(A, 4), B: None}
    assert calls == {"BatchGetItem": 3} and len(cache) == 0


def test_a_store_outage_raises_and_caches_nothing(isolated_tables) -> None:
    broken = DynamoFeatureStore(isolated_tables.model_copy(update={"table_batch": "no-such-table"}))
    cache = BatchFeatureCache(broken)
    with pytest.raises(ClientError):
        cache.get_many([A])
    assert len(cache) == 0 and cache.version is None


def _wait_for(predicate, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the watcher did not get there in time"
        time.sleep(0.02)


def test_prefetch_serves_first_transactions_after_a_nightly_run_without_store_reads(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    store.put_records(BATCH_GROUP, [week(A, 4), week(B, 7)])
    store.mark_batch_version("night 1")
    cache = BatchFeatureCache(store, check_interval_s=0.05, background=True, prefetch_max_cards=1_000)
    try:
        assert cache.get_many([A]) == {A: week(A, 4)}  # the first call reads through; the watcher starts
        _wait_for(lambda: cache.stats.prefetch_scans >= 1)
        calls.clear()
        # B was never asked for, C has no item: both answered from the whole-group scan, no card read
        assert cache.get_many([B, C]) == {B: week(B, 7), C: None}
        assert calls["BatchGetItem"] == 0 and cache.stats.prefetched == 2

        counts = load_records(store, [week(A, 9, NIGHT2), week(D, 2, NIGHT2)], label="nightly 2020-03-03")
        _wait_for(lambda: cache.stats.prefetch_scans >= 2)  # the new version seen, the group read again
        _wait_for(lambda: cache.get_many([D])[D] is not None)
        calls.clear()
        assert cache.get_many([A, B, C, D]) == {A: week(A, 9, NIGHT2), B: week(B, 7), C: None, D: week(D, 2, NIGHT2)}
        assert calls["BatchGetItem"] == 0
        assert cache.version == counts["batch_version"] and cache.stats.invalidations == 1
    finally:
        cache.close()


def test_a_partial_prefetch_still_reads_cards_it_did_not_cover(isolated_tables) -> None:
    store, calls = counted_store(isolated_tables)
    cards = [f"43000000000002{i:02d}" for i in range(5)]
    store.put_records(BATCH_GROUP, [week(c, i + 1) for i, c in enumerate(cards)])
    store.mark_batch_version("night 1")
    cache = BatchFeatureCache(store, check_interval_s=0.05, background=True, prefetch_max_cards=2)
    try:
        cache.get_many([C])
        _wait_for(lambda: cache.stats.prefetch_scans >= 1)
        cache.get_many([C])  # merges the (partial) scan
        assert cache.stats.prefetched == 2
        calls.clear()
        found = cache.get_many(cards)  # three were not in the scan: read, never answered "no history"
        assert [found[c]["num_trans_last_1w"] for c in cards] == [1, 2, 3, 4, 5]
        assert calls["BatchGetItem"] == 1
    finally:
        cache.close()


def test_a_dropped_cache_ends_its_watcher(isolated_tables) -> None:
    """A scorer's resources dropped without close() must not leave a thread polling the store forever."""
    import gc
    import threading
    import time

    store, calls = counted_store(isolated_tables)
    store.mark_batch_version("test")
    cache = BatchFeatureCache(store, check_interval_s=0.05, background=True)
    cache.get_many([A])
    watcher = cache._watcher
    assert watcher is not None and watcher.is_alive()
    time.sleep(0.2)
    assert calls["GetItem"] >= 2  # the first read, then the watcher's
    del cache
    gc.collect()
    watcher.join(timeout=2)
    assert not watcher.is_alive()
    assert not any(t.name == "batch-version-watch" and t is watcher for t in threading.enumerate())
