"""The handlers' own figures on AWS, as CloudWatch Embedded Metric Format (EMF) log lines.

Why EMF: a Lambda function has no ``/metrics`` port to scrape, and ``PutMetricData`` would need a
VPC endpoint and an IAM action per function. A JSON line on stdout lands in the function's log group
(which it already writes), and CloudWatch extracts the metrics from it: no call, no permission.
AWS/Lambda already has invocations, errors, duration and ``OffsetLag``; what only the handler knows is
how many records it took and how many it dead-lettered, by stage. The names mirror the Prometheus
ones (docs/metrics.md): ``Records`` ~ ``fraudstream_handler_records_total``, ``DeadLetters`` ~
``fraudstream_dead_letters_published_total``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from typing import Any

NAMESPACE = "fraudstream"
FUNCTION_DIMENSION = "FunctionName"
STAGE_DIMENSION = "Stage"


def dead_letters_by_stage() -> dict[str, float]:
    """The process's dead-letter counter per stage (the publisher counts there on every path)."""
    from fraudstream.handlers.metrics import DEAD_LETTERS

    return {
        sample.labels["stage"]: sample.value
        for metric in DEAD_LETTERS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def documents(function: str, records: int, dead_letters: dict[str, float], now_ms: int) -> list[dict[str, Any]]:
    """EMF documents of one invocation: records and dead letters per function, dead letters per stage."""

    def doc(dimensions: list[str], values: dict[str, Any], metrics: list[str]) -> dict[str, Any]:
        return {
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [dimensions],
                        "Metrics": [{"Name": m, "Unit": "Count"} for m in metrics],
                    }
                ],
            },
            **values,
        }

    total = sum(dead_letters.values())
    out = [doc([FUNCTION_DIMENSION], {FUNCTION_DIMENSION: function, "Records": records, "DeadLetters": total},
               ["Records", "DeadLetters"])]  # fmt: skip
    for stage, count in sorted(dead_letters.items()):
        if count:
            values = {FUNCTION_DIMENSION: function, STAGE_DIMENSION: stage, "DeadLetters": count}
            out.append(doc([FUNCTION_DIMENSION, STAGE_DIMENSION], values, ["DeadLetters"]))
    return out


def _records(event: Any) -> int:
    batches = (event or {}).get("records") or {}
    return sum(len(batch) for batch in batches.values()) if isinstance(batches, dict) else 0


def instrumented(handle: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap a Lambda entry point: after each invocation (raised or not) print its EMF lines."""

    @functools.wraps(handle)
    def wrapper(event: Any, context: Any) -> Any:
        before = dead_letters_by_stage()
        try:
            return handle(event, context)
        finally:
            after = dead_letters_by_stage()
            delta = {stage: value - before.get(stage, 0.0) for stage, value in after.items()}
            function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
            for document in documents(function, _records(event), delta, int(time.time() * 1000)):
                print(json.dumps(document, separators=(",", ":")), flush=True)

    return wrapper
