"""fraud-scorer: ``cc-agg`` records → one Prediction per transaction on ``predictions``.

Per batch: the nightly features of the batch's cards (and, for a feature set that uses them, the
card windows ``cc-windows-fg`` and the merchant items ``merchant-fg``, keyed by the record's
optional ``merchant``; unknown or absent → missing values) from the scorer's versioned in-process
cache (:mod:`fraudstream.featurestore.batch_cache`: one BatchGetItem over those tables only for
keys not read under the current batch version, and one GetItem of the version marker at most
every ``batch_cache_check_interval_s``), the model inputs of every row from
:func:`fraudstream.features.compute_model_inputs` (the trainer's function, so no train/serve skew;
no 1-week history → missing ratios), and ONE endpoint call with all rows.

Per-record cost: records are read by the fast ``cc-agg`` decoder
(:func:`fraudstream.featurestore.aggregates.decode_aggregate`; the strict decoder decides every
record the fast path does not vouch for), and predictions are written as JSON straight from their
values — the document ``encode(Prediction(...))`` gives, field for field (a test compares them).
A row whose values the fast path cannot vouch for (a store item with a negative count, a
threshold outside [0, 1]) goes through the ``Prediction`` model as before, which rejects it.

Failure policy: a record that cannot be decoded or scored goes to ``dead-letter`` and the rest of
the batch proceeds. A store or endpoint outage is not the records' fault: the handler raises, the
whole batch is retried, and nothing is dead-lettered or lost.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from fraudstream import features
from fraudstream.dead_letter import DeadLetterPublisher
from fraudstream.featurestore.aggregates import Aggregate, decode_aggregate
from fraudstream.featurestore.groups import BATCH_GROUP, CARD_WINDOWS_GROUP, MERCHANT_GROUP, FeatureGroup
from fraudstream.handlers.msk_event import KafkaRecord, batch_response, parse_event
from fraudstream.handlers.resources import DeliveryTracker, HandlerResources, default_resources
from fraudstream.handlers.scoring_config import ScoringConfig, Verdict
from fraudstream.messages import CardAggregate, DecodeError, Prediction, encode, format_time, parse_time

STAGE = "fraud-scorer"
log = logging.getLogger(__name__)

PREDICTION_FIELDS: tuple[str, ...] = tuple(Prediction.model_fields)
"""The wire order of a prediction's fields (the model's declaration order)."""
_RATIO_FIELDS = (features.AMT_RATIO1, features.AMT_RATIO2, features.COUNT_RATIO, features.MAX_AMT_RATIO)
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
AS_OF = BATCH_GROUP.event_time_field
"""The 1-week group's event time in the store (featurestore.groups.BATCH_GROUP), written as ``batch_as_of``."""


@lru_cache(maxsize=64)
def _wire_as_of(value: str) -> str | None:
    """The store's ``as_of`` in the wire time format, None when it is not a time.

    Why None rather than a rejected row: it only annotates the features' age for the monitor, and must
    never cost a transaction its verdict. Cached: every card of one nightly run has the same ``as_of``.
    """
    try:
        return format_time(parse_time(value))
    except ValueError:
        return None


def batch_as_of(week: dict[str, Any] | None) -> str | None:
    """``batch_as_of`` of a prediction from its card's 1-week features (None: no history, or no time)."""
    value = None if week is None else week.get(AS_OF)
    return _wire_as_of(value) if type(value) is str else None


@dataclass(frozen=True)
class ScoringRow:
    """One decodable record, the nightly card item of its card and the merchant item of its merchant."""

    record: KafkaRecord
    agg: Aggregate | CardAggregate
    batch_features: dict[str, Any] | None
    merchant_features: dict[str, Any] | None = None
    card_windows: dict[str, Any] | None = None  # the card's 1 / 7 / 30-day item (CARD_WINDOWS_GROUP)


_MERCHANT_INPUTS = frozenset(features.MERCHANT_FEATURES)
_CARD_WINDOW_INPUTS = frozenset((*features.CARD_WINDOW_FEATURES, *features.CARD_AMOUNT_PROFILE))


def nightly_inputs(rows: list[ScoringRow], names: tuple[str, ...]) -> dict[str, list[Any]]:
    """The nightly values ``names`` (``features.nightly_names``): card windows from the card windows
    item, merchant count and risk from the merchant item; None where the item or the value is missing."""
    out: dict[str, list[Any]] = {}
    for name in names:
        merchant = name in _MERCHANT_INPUTS
        items = [r.merchant_features if merchant else r.card_windows for r in rows]
        out[name] = [None if item is None else item.get(name) for item in items]
    return out


def read_nightly(
    decoded: list[tuple[KafkaRecord, Aggregate | CardAggregate]], res: HandlerResources, names: tuple[str, ...]
) -> list[ScoringRow]:
    """The rows with their nightly items: the 1-week card item always, the card windows and the
    merchant item when the served set uses them, all from the cache or ONE BatchGetItem over the
    tables. A record without a merchant, or with one the store does not know, gets None (missing)."""
    cards = [agg.cc_num for _, agg in decoded]
    merchants = [getattr(agg, "merchant", None) for _, agg in decoded]
    keys: dict[FeatureGroup, list[Any]] = {BATCH_GROUP: cards}
    if _CARD_WINDOW_INPUTS.intersection(names):
        keys[CARD_WINDOWS_GROUP] = cards
    if _MERCHANT_INPUTS.intersection(names):
        keys[MERCHANT_GROUP] = merchants
    items = res.batch_cache.get_groups(keys)
    week, windows, shops = (items.get(g.key, {}) for g in (BATCH_GROUP, CARD_WINDOWS_GROUP, MERCHANT_GROUP))
    return [
        ScoringRow(rec, agg, week[agg.cc_num], shops.get(merchant) if merchant else None, windows.get(agg.cc_num))
        for (rec, agg), merchant in zip(decoded, merchants, strict=True)
    ]


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
        nightly=nightly_inputs(rows, features.nightly_names(feature_set)),
    )


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
    decoded: list[tuple[KafkaRecord, Aggregate]] = []
    for record in parse_event(event):
        try:
            decoded.append((record, decode_aggregate(record.value)))
        except DecodeError as exc:
            rejects.append((record, f"decode: {exc}"))

    predictions = score(decoded, res, rejects) if decoded else []

    tracker = DeliveryTracker()
    topic = res.settings.topic_predictions
    produce = res.producer.produce
    for key, value in predictions:
        produce(topic, key=key, value=value, on_delivery=tracker)
    if rejects:
        dead = DeadLetterPublisher(res.producer, res.settings)
        for record, reason in rejects:
            dead.reject(STAGE, record, reason, tracker)
    res.flush(tracker)
    return batch_response([])


def score(
    decoded: list[tuple[KafkaRecord, Aggregate | CardAggregate]],
    res: HandlerResources,
    rejects: list[tuple[KafkaRecord, str]],
) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` of every prediction: one endpoint call for the batch, 1-week features from the
    cache; unscorable rows are appended to ``rejects``."""
    config = scoring_config(res)
    feature_set = config.feature_set()
    names = features.model_input_names(feature_set)
    rows = read_nightly(decoded, res, features.nightly_names(feature_set))  # store outage → the batch is retried
    matrix = model_inputs(rows, feature_set)

    scorable = ~np.isinf(matrix).any(axis=1)
    if not scorable.all():
        for row, ok in zip(rows, scorable.tolist(), strict=True):
            if not ok:
                rejects.append((row.record, f"score: non-finite model input from features {row.batch_features!r}"))
        rows = [r for r, ok in zip(rows, scorable.tolist(), strict=True) if ok]
        matrix = matrix[scorable]
    if not rows:
        return []
    inputs = [[None if v != v else v for v in line] for line in matrix.tolist()]  # NaN → None (missing)
    result = res.endpoint.predict(inputs)  # EndpointError → the whole batch is retried
    verdict = config.verdict(result, feature_set)
    return encode_predictions(rows, names, inputs, result.probabilities, verdict, datetime.now(UTC), rejects)


def _count(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _number(value: Any) -> bool:
    kind = type(value)
    return value is None or (kind is float and math.isfinite(value)) or (kind is int and abs(value) < 1e308)


def _text(value: Any) -> bool:
    return type(value) is str and bool(value)


def encode_predictions(
    rows: list[ScoringRow],
    names: tuple[str, ...],
    inputs: list[list[float | None]],
    probabilities: list[float],
    verdict: Verdict,
    scored_at: datetime,
    rejects: list[tuple[KafkaRecord, str]],
) -> list[tuple[bytes, bytes]]:
    """The wire records of the scored rows (see the module docstring); refused rows go to ``rejects``."""
    threshold = verdict.threshold
    verdict_ok = (
        type(threshold) is float
        and 0.0 <= threshold <= 1.0
        and _text(verdict.model_version)
        and _text(verdict.feature_set)
    )
    position = {name: i for i, name in enumerate(names)}
    r1, r2, rc, rm = (position.get(name) for name in _RATIO_FIELDS)
    scored_text = format_time(scored_at)
    model_version, feature_set = verdict.model_version, verdict.feature_set
    encode_json = _JSON.encode
    out: list[tuple[bytes, bytes]] = []
    for row, line, probability in zip(rows, inputs, probabilities, strict=True):
        week = row.batch_features
        n1w = a1w = None
        if week is not None:
            n1w, a1w = week.get(features.NUM_TRANS_LAST_1W), week.get(features.AVG_AMT_LAST_1W)
        if not (
            verdict_ok and _count(n1w) and _number(a1w) and type(probability) is float and 0.0 <= probability <= 1.0
        ):
            try:  # the model decides (and names what it refuses)
                prediction = build_prediction(row, dict(zip(names, line, strict=True)), probability, verdict, scored_at)
            except ValueError as exc:  # a value the Prediction schema refuses: this record's fault
                rejects.append((row.record, f"score: {exc}"))
                continue
            _append_fitting(out, rejects, row, prediction.cc_num.encode(), encode(prediction))
            continue
        agg = row.agg
        when = agg.trans_time
        doc = {
            "tid": agg.tid,
            "cc_num": agg.cc_num,
            "amount": agg.amount,
            "trans_time": when if type(when) is str else format_time(when),
            "amt_ratio1": None if r1 is None else line[r1],
            "amt_ratio2": None if r2 is None else line[r2],
            "count_ratio": None if rc is None else line[rc],
            "max_amt_ratio": None if rm is None else line[rm],
            "num_trans_last_10m": agg.num_trans_last_10m,
            "avg_amt_last_10m": agg.avg_amt_last_10m,
            "max_amt_last_10m": agg.max_amt_last_10m,
            "num_trans_last_1w": n1w,
            "avg_amt_last_1w": None if a1w is None else float(a1w),
            "batch_as_of": batch_as_of(week),
            "fraud_probability": probability,
            "is_fraud": probability >= threshold,
            "threshold": threshold,
            "model_version": model_version,
            "feature_set": feature_set,
            "scored_at": scored_text,
        }
        _append_fitting(out, rejects, row, agg.cc_num.encode(), encode_json(doc).encode())
    return out


MAX_PREDICTION_BYTES = 1_000_000 - 1_024
"""librdkafka's default ``message.max.bytes`` less room for the record's overhead. A larger prediction
is refused at ``produce()`` (MSG_SIZE_TOO_LARGE), which failed the batch, and the runner retried it
forever: a valid transaction whose ``tid`` is ~510 KB of non-ASCII text (ASCII-escaped here, 6 bytes
a character) stalled its partition. It is that record's fault, so it is dead-lettered."""


def _append_fitting(
    out: list[tuple[bytes, bytes]], rejects: list[tuple[KafkaRecord, str]], row: ScoringRow, key: bytes, value: bytes
) -> None:
    if len(key) + len(value) > MAX_PREDICTION_BYTES:
        size = len(key) + len(value)
        rejects.append((row.record, f"score: prediction of {size} bytes is over the {MAX_PREDICTION_BYTES}-byte limit"))
        return
    out.append((key, value))


def build_prediction(
    row: ScoringRow, inputs: dict[str, float | None], probability: float, verdict: Any, scored_at: datetime
) -> Prediction:
    """The record written to ``predictions`` as a validated model: inputs the model saw, raw aggregates, verdict."""
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
        batch_as_of=batch_as_of(row.batch_features),
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
