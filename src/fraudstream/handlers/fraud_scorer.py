"""fraud-scorer: ``cc-agg`` records → one Prediction per transaction on ``predictions``.

Per batch: one BatchGetItem of ``cc-agg-batch-fg`` for the batch's cards, the model inputs of
every row from :func:`fraudstream.features.compute_model_inputs` (the trainer's function, so no
train/serve skew; no 1-week history → missing ratios), and ONE endpoint call with all rows.

Failure policy: a record that cannot be decoded or scored goes to ``dead-letter`` and the rest of
the batch proceeds. A store or endpoint outage is not the records' fault: the handler raises, the
whole batch is retried, and nothing is dead-lettered or lost.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fraudstream import features
from fraudstream.dead_letter import DeadLetterPublisher
from fraudstream.featurestore.groups import BATCH_GROUP
from fraudstream.handlers.msk_event import KafkaRecord, batch_response, parse_event
from fraudstream.handlers.resources import DeliveryTracker, HandlerResources, default_resources
from fraudstream.handlers.scoring_config import ScoringConfig
from fraudstream.messages import CardAggregate, DecodeError, Prediction, decode, encode

STAGE = "fraud-scorer"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringRow:
    """One decodable record and the 1-week features the store holds for its card."""

    record: KafkaRecord
    agg: CardAggregate
    batch_features: dict[str, Any] | None


def model_inputs(rows: list[ScoringRow], feature_set: str) -> np.ndarray:
    """The model input matrix of the batch, through the one shared feature function."""

    def week(row: ScoringRow, name: str) -> float | None:
        return None if row.batch_features is None else row.batch_features.get(name)

    return features.compute_model_inputs(
        amount=[r.agg.amount for r in rows],
        num_trans_last_10m=[r.agg.num_trans_last_10m for r in rows],
        avg_amt_last_10m=[r.agg.avg_amt_last_10m for r in rows],
        num_trans_last_1w=[week(r, features.NUM_TRANS_LAST_1W) for r in rows],
        avg_amt_last_1w=[week(r, features.AVG_AMT_LAST_1W) for r in rows],
        max_amt_last_10m=[r.agg.max_amt_last_10m for r in rows],
        feature_set=feature_set,
    )


def _missing(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def scoring_config(res: HandlerResources) -> ScoringConfig:
    """The resources' scoring config (kept with them, so a warm container re-reads metadata only per TTL)."""
    config = getattr(res, "scoring_config", None)
    if config is None:
        config = res.scoring_config = ScoringConfig(res.settings)
    return config


def handle(event: dict[str, Any], context: Any = None, resources: HandlerResources | None = None) -> dict[str, Any]:
    """Lambda handler body: returns ``{"batchItemFailures": []}`` or raises to retry the batch."""
    res = resources or default_resources()
    rejects: list[tuple[KafkaRecord, str]] = []  # dead-lettered only once the batch can no longer fail
    decoded: list[tuple[KafkaRecord, CardAggregate]] = []
    for record in parse_event(event):
        try:
            decoded.append((record, decode(CardAggregate, record.value)))
        except DecodeError as exc:
            rejects.append((record, f"decode: {exc}"))

    predictions = score(decoded, res, rejects) if decoded else []

    tracker = DeliveryTracker()
    topic = res.settings.topic_predictions
    for prediction in predictions:
        res.producer.produce(topic, key=prediction.cc_num.encode(), value=encode(prediction), on_delivery=tracker)
    dead = DeadLetterPublisher(res.producer, res.settings)
    for record, reason in rejects:
        dead.reject(STAGE, record, reason, tracker)
    res.flush(tracker)
    return batch_response([])


def score(
    decoded: list[tuple[KafkaRecord, CardAggregate]], res: HandlerResources, rejects: list[tuple[KafkaRecord, str]]
) -> list[Prediction]:
    """One store read and one endpoint call for the batch; unscorable rows are appended to ``rejects``."""
    config = scoring_config(res)
    week = res.store.batch_get({agg.cc_num for _, agg in decoded}, groups=(BATCH_GROUP,))
    rows = [ScoringRow(rec, agg, week[agg.cc_num][BATCH_GROUP.key]) for rec, agg in decoded]
    feature_set = config.feature_set()
    names = features.model_input_names(feature_set)
    matrix = model_inputs(rows, feature_set)

    scorable = ~np.isinf(matrix).any(axis=1)
    for row, ok in zip(rows, scorable, strict=True):
        if not ok:
            rejects.append((row.record, f"score: non-finite model input from features {row.batch_features!r}"))
    rows = [r for r, ok in zip(rows, scorable, strict=True) if ok]
    if not rows:
        return []
    inputs = [[_missing(v) for v in line] for line in matrix[scorable]]
    result = res.endpoint.predict(inputs)  # EndpointError → the whole batch is retried
    verdict = config.verdict(result, feature_set)
    scored_at = datetime.now(UTC)
    out = []
    for row, line, probability in zip(rows, inputs, result.probabilities, strict=True):
        try:
            out.append(build_prediction(row, dict(zip(names, line, strict=True)), probability, verdict, scored_at))
        except ValueError as exc:  # a value the Prediction schema refuses: this record's fault
            rejects.append((row.record, f"score: {exc}"))
    return out


def build_prediction(
    row: ScoringRow, inputs: dict[str, float | None], probability: float, verdict: Any, scored_at: datetime
) -> Prediction:
    """The record written to ``predictions``: inputs the model saw, raw aggregates, verdict."""
    week = row.batch_features or {}
    agg = row.agg
    return Prediction(
        tid=agg.tid,
        cc_num=agg.cc_num,
        amount=agg.amount,
        trans_time=agg.trans_time,
        amt_ratio1=inputs.get(features.AMT_RATIO1),
        amt_ratio2=inputs.get(features.AMT_RATIO2),
        count_ratio=inputs.get(features.COUNT_RATIO),
        max_amt_ratio=inputs.get(features.MAX_AMT_RATIO),
        num_trans_last_10m=agg.num_trans_last_10m,
        avg_amt_last_10m=agg.avg_amt_last_10m,
        max_amt_last_10m=agg.max_amt_last_10m,
        num_trans_last_1w=week.get(features.NUM_TRANS_LAST_1W),
        avg_amt_last_1w=week.get(features.AVG_AMT_LAST_1W),
        fraud_probability=probability,
        is_fraud=probability >= verdict.threshold,
        threshold=verdict.threshold,
        model_version=verdict.model_version,
        feature_set=verdict.feature_set,
        scored_at=scored_at,
    )


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point (resources reused across warm invocations)."""
    return handle(event, context)
