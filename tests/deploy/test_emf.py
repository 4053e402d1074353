"""The Lambda entry points' CloudWatch figures (EMF log lines): what CloudWatch extracts from them."""

from __future__ import annotations

import json

import pytest

from fraudstream.deploy.emf import NAMESPACE, documents, instrumented
from fraudstream.handlers.metrics import DEAD_LETTERS


def _metrics(doc: dict) -> dict[tuple, float]:
    """(metric, dimension values) -> value, read the way CloudWatch reads an EMF document."""
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    (dims,) = directive["Dimensions"]
    return {(m["Name"], *(doc[d] for d in dims)): doc[m["Name"]] for m in directive["Metrics"]}


def test_documents_count_records_and_dead_letters_per_function_and_stage():
    docs = documents("s-agg-writer", 7, {"agg-writer": 2.0, "other": 0.0}, 1_700_000_000_000)
    got = {k: v for d in docs for k, v in _metrics(d).items()}
    assert got == {
        ("Records", "s-agg-writer"): 7,
        ("DeadLetters", "s-agg-writer"): 2.0,
        ("DeadLetters", "s-agg-writer", "agg-writer"): 2.0,  # a stage with none gets no line
    }
    assert all(d["_aws"]["Timestamp"] == 1_700_000_000_000 for d in docs)


def _event(n: int) -> dict:
    return {"eventSource": "aws:kafka", "records": {"cc-agg-0": [{"offset": i} for i in range(n)]}}


def test_each_invocation_prints_only_its_own_dead_letters(capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "s-fraud-scorer")
    DEAD_LETTERS.labels("fraud-scorer").inc(5)  # an earlier invocation of the same process

    @instrumented
    def handler(event, context):
        DEAD_LETTERS.labels("fraud-scorer").inc(2)
        return {"batchItemFailures": []}

    assert handler(_event(3), None) == {"batchItemFailures": []}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = {k: v for d in lines for k, v in _metrics(d).items()}
    assert got[("Records", "s-fraud-scorer")] == 3
    assert got[("DeadLetters", "s-fraud-scorer")] == 2.0
    assert got[("DeadLetters", "s-fraud-scorer", "fraud-scorer")] == 2.0


def test_a_failed_invocation_still_reports_then_raises(capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "s-agg-writer")

    @instrumented
    def handler(event, context):
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError, match="store down"):
        handler(_event(4), None)
    (line,) = capsys.readouterr().out.splitlines()
    assert _metrics(json.loads(line)) == {("Records", "s-agg-writer"): 4, ("DeadLetters", "s-agg-writer"): 0}
