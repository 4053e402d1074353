"""put_many through TransactWriteItems keeps newer-wins exactly (DynamoDB Local, isolated tables)."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from fraudstream.featurestore import dynamodb_store
from fraudstream.featurestore.dynamodb_store import DynamoFeatureStore, cancellation_reasons
from fraudstream.featurestore.groups import STREAM_GROUP

pytestmark = pytest.mark.integration


def card(i: int) -> str:
    return f"4100000000{i:06d}"


def at(second: int) -> str:
    return f"2020-03-02T10:{second // 60:02d}:{second % 60:02d}.000Z"


def agg(i: int, second: int, tid: str | None = None) -> dict:
    return {
        "cc_num": card(i),
        "tid": tid or f"t{i}-{second}",
        "trans_time": at(second),
        "num_trans_last_10m": 1 + second % 7,
        "avg_amt_last_10m": 2.5 * second,
        "max_amt_last_10m": 3.0 * second,
    }


def count_calls(client) -> Counter:
    """Operation names of every request the client sends (a botocore event hook on the real client)."""
    calls: Counter = Counter()
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return calls


def stored_times(store: DynamoFeatureStore, n: int) -> dict[int, str | None]:
    found = store.batch_get([card(i) for i in range(n)], groups=(STREAM_GROUP,))
    return {i: (found[card(i)]["stream"] or {}).get("trans_time") for i in range(n)}


@pytest.mark.parametrize("method", ["transact", "put"])
def test_each_record_gets_the_outcome_of_its_own_conditional_put(isolated_tables, method) -> None:
    """Later stored → skipped, equal → overwritten, earlier stored or none → written; partial conflicts
    spread over three transactions (250 records)."""
    store = DynamoFeatureStore(isolated_tables)
    n = 250
    stored_second = {i: 100 for i in range(n) if i % 4 != 3}  # cards i % 4 == 3 have no item yet
    assert store.put_records(STREAM_GROUP, [agg(i, s, tid="old") for i, s in stored_second.items()]).failed == 0
    # new second per card: later (i%4==0), equal (1), earlier (2), new card (3)
    new_second = {i: {0: 200, 1: 100, 2: 50, 3: 10}[i % 4] for i in range(n)}
    calls = count_calls(store.client)
    outcomes = store.put_many(STREAM_GROUP, [agg(i, s, tid="new") for i, s in new_second.items()], method=method)

    expected = {i: "skipped" if i % 4 == 2 else "written" for i in range(n)}
    assert {i: o.status for i, o in enumerate(outcomes)} == expected
    assert all(o.error is None for o in outcomes)
    times = stored_times(store, n)
    for i in range(n):
        assert times[i] == at(max(new_second[i], stored_second.get(i, -1))), i
    tids = store.batch_get([card(1), card(2)], groups=(STREAM_GROUP,))
    assert tids[card(1)]["stream"]["tid"] == "new"  # equal event time overwrites
    assert tids[card(2)]["stream"]["tid"] == "old"  # a later stored event time is never replaced
    if method == "transact":  # 3 chunks; each cancelled once for its conflicts, then committed
        assert calls["TransactWriteItems"] == 6 and calls["PutItem"] == 0
    else:
        assert calls["PutItem"] == n and calls["TransactWriteItems"] == 0


def test_several_records_of_one_card_are_written_in_order(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    records = [agg(0, 30), agg(1, 5), agg(0, 10), agg(0, 40), agg(1, 5, tid="tie"), agg(0, 20)]
    outcomes = store.put_many(STREAM_GROUP, records)
    # sequential conditional puts of each card's records, in order, give exactly these
    assert [o.status for o in outcomes] == ["written", "written", "skipped", "written", "written", "skipped"]
    assert stored_times(store, 2) == {0: at(40), 1: at(5)}
    assert store.get_record(STREAM_GROUP, card(1))["tid"] == "tie"


def test_a_record_dynamodb_refuses_fails_alone(isolated_tables) -> None:
    store = DynamoFeatureStore(isolated_tables)
    huge = agg(3, 50, tid="x" * 500_000)  # over DynamoDB's 400 KB item limit: the whole transaction is refused
    records = [agg(i, 50) for i in range(3)] + [huge] + [{"cc_num": card(4), "trans_time": None}]
    outcomes = store.put_many(STREAM_GROUP, records)
    assert [o.status for o in outcomes[:3]] == ["written"] * 3
    assert outcomes[3].status == "failed" and not outcomes[3].retryable and "ValidationException" in outcomes[3].error
    assert outcomes[4].status == "failed" and not outcomes[4].retryable and "bad record" in outcomes[4].error
    assert stored_times(store, 5) == {0: at(50), 1: at(50), 2: at(50), 3: None, 4: None}


def test_concurrent_out_of_order_writers_leave_the_newest(isolated_tables) -> None:
    """Four writers put overlapping, shuffled batches of the same 150 cards at once: every card ends with its
    latest event time, every record is written or skipped (conflicting transactions are retried)."""
    n, writers = 150, 4
    rng = random.Random(12)
    seconds = {i: rng.sample(range(1, 3000), writers) for i in range(n)}  # distinct times per card
    batches = []
    for w in range(writers):
        batch = [agg(i, seconds[i][w], tid=f"w{w}") for i in range(n)]
        rng.shuffle(batch)
        batches.append(batch)
    results: dict[int, list] = {}

    def run(w: int) -> None:
        results[w] = DynamoFeatureStore(isolated_tables).put_many(STREAM_GROUP, batches[w])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == list(range(writers))
    statuses = Counter(o.status for outcomes in results.values() for o in outcomes)
    assert statuses["failed"] == 0, [o.error for r in results.values() for o in r if o.status == "failed"][:3]
    assert stored_times(DynamoFeatureStore(isolated_tables), n) == {i: at(max(seconds[i])) for i in range(n)}
    # the record that carries a card's latest time was written by whichever writer had it
    for w, batch in enumerate(batches):
        for record, outcome in zip(batch, results[w], strict=True):
            i = int(record["cc_num"][-6:])
            if record["trans_time"] == at(max(seconds[i])):
                assert outcome.status == "written"


def test_transient_failures_are_retryable(isolated_tables, monkeypatch) -> None:
    monkeypatch.setattr(dynamodb_store, "TRANSACT_TRANSIENT_ATTEMPTS", 2)
    broken = DynamoFeatureStore(isolated_tables.model_copy(update={"table_agg": "no-such-table"}))
    outcomes = broken.put_many(STREAM_GROUP, [agg(i, 5) for i in range(3)])
    assert {(o.status, o.retryable) for o in outcomes} == {("failed", True)}


def test_cancellation_reasons_from_aws_and_dynamodb_local() -> None:
    aws = {"CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The condition"}]}
    assert cancellation_reasons(aws, 2) == ["None", "ConditionalCheckFailed"]
    local = {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
            "[None, ConditionalCheckFailed, TransactionConflict]",
        }
    }
    assert cancellation_reasons(local, 3) == ["None", "ConditionalCheckFailed", "TransactionConflict"]
    assert cancellation_reasons(local, 2) is None  # a count that does not match is not trusted
    assert cancellation_reasons({"Error": {"Message": "no list"}}, 1) is None
