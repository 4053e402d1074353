"""The chaos check on hand-made results: missing, identical vs differing duplicates, wrong features."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fraudstream.streaming.testkit import Tx
from fraudstream.testing.chaos import check_delivery, same_verdict

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CARD = "6000000000000001"


def _prediction(tx: Tx, count: int, avg: float, peak: float, scored_at: str = "2026-01-05T12:00:01.000Z") -> dict:
    return {
        "tid": tx.tid,
        "cc_num": tx.cc_num,
        "amount": tx.amount,
        "num_trans_last_10m": count,
        "avg_amt_last_10m": avg,
        "max_amt_last_10m": peak,
        "fraud_probability": 0.1,
        "scored_at": scored_at,
    }


ROWS = [
    Tx("a", CARD, 10.0, T0),
    Tx("b", CARD, 30.0, T0 + timedelta(minutes=1)),
    Tx("c", CARD, 20.0, T0 + timedelta(minutes=12)),  # the first two are out of its window
]
RIGHT = {
    "a": _prediction(ROWS[0], 1, 10.0, 10.0),
    "b": _prediction(ROWS[1], 2, 20.0, 30.0),
    "c": _prediction(ROWS[2], 1, 20.0, 20.0),
}


def test_every_prediction_once_and_exact_passes() -> None:
    check = check_delivery(ROWS, {t: [p] for t, p in RIGHT.items()})
    assert check.ok
    assert check.count() == {
        "sent": 3,
        "predicted": 3,
        "missing": 0,
        "duplicates_identical": 0,
        "duplicates_differing": 0,
        "features_wrong": 0,
    }


def test_a_missing_prediction_fails() -> None:
    check = check_delivery(ROWS, {"a": [RIGHT["a"]], "c": [RIGHT["c"]]})
    assert check.missing == {"b"} and not check.ok


def test_a_copy_differing_only_in_scored_at_is_an_identical_duplicate() -> None:
    again = {**RIGHT["b"], "scored_at": "2026-01-05T12:00:09.000Z"}
    check = check_delivery(ROWS, {"a": [RIGHT["a"]], "b": [RIGHT["b"], again], "c": [RIGHT["c"]]})
    assert check.duplicates_identical == {"b"} and check.duplicates_differing == set()
    assert check.ok and check.copies == 4


def test_a_copy_with_another_verdict_is_a_differing_duplicate() -> None:
    other = {**RIGHT["b"], "fraud_probability": 0.9}
    check = check_delivery(ROWS, {"a": [RIGHT["a"]], "b": [RIGHT["b"], other], "c": [RIGHT["c"]]})
    assert check.duplicates_differing == {"b"} and not check.ok


def test_features_are_checked_against_a_recount_including_history() -> None:
    earlier = Tx("h", CARD, 50.0, T0 - timedelta(minutes=2))
    check = check_delivery(ROWS, {t: [p] for t, p in RIGHT.items()}, history=[earlier])
    assert check.features_wrong == {"a", "b"}  # both windows hold the earlier row; "c" does not
    fixed = {**RIGHT, "a": _prediction(ROWS[0], 2, 30.0, 50.0), "b": _prediction(ROWS[1], 3, 30.0, 50.0)}
    assert check_delivery(ROWS, {t: [p] for t, p in fixed.items()}, history=[earlier]).ok


def test_a_wrong_second_copy_counts_as_wrong_features() -> None:
    wrong = {**RIGHT["c"], "num_trans_last_10m": 3}
    check = check_delivery(ROWS, {"a": [RIGHT["a"]], "b": [RIGHT["b"]], "c": [RIGHT["c"], wrong]})
    assert check.features_wrong == {"c"} and check.duplicates_differing == {"c"}


def test_counts_per_window() -> None:
    check = check_delivery(ROWS, {"a": [RIGHT["a"], RIGHT["a"]], "c": [RIGHT["c"]]})
    assert check.count(["a", "b"]) == {
        "sent": 2,
        "predicted": 1,
        "missing": 1,
        "duplicates_identical": 1,
        "duplicates_differing": 0,
        "features_wrong": 0,
    }


def test_same_verdict_sees_a_field_only_one_copy_has() -> None:
    assert not same_verdict(RIGHT["a"], {**RIGHT["a"], "batch_as_of": "2026-01-05T00:00:00.000Z"})
