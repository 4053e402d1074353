"""Turning consumed Kafka records into store rows (one :class:`Batch` per poll).

A record the monitor cannot decode is not applied; it is counted (``rejected``) and, for
``predictions`` and ``labels``, dead-lettered with stage ``monitor`` by the consumer (a bad record
on ``dead-letter`` itself is only counted: re-publishing it there would loop).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from fraudstream.messages import DeadLetter, DecodeError, Label, Prediction, decode, to_wire_dict
from fraudstream.monitor.store import Batch, DeadLetterRow, LabelRow, PredictionRow
from fraudstream.settings import Settings

_VOLATILE = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|'[^']*'|\"[^\"]*\"")
MAX_REASON_CHARS = 80


def reason_of(error: str) -> str:
    """A bounded label for a dead letter's error text: numbers and quoted values masked, truncated."""
    return _VOLATILE.sub("#", error.strip().splitlines()[0] if error.strip() else "unknown")[:MAX_REASON_CHARS]


def prediction_row(prediction: Prediction) -> PredictionRow:
    """The store row of a prediction; ``batch_as_of`` is None on records written before the field existed."""
    as_of = prediction.batch_as_of
    return PredictionRow(
        tid=prediction.tid,
        model_version=prediction.model_version,
        trans_time=prediction.trans_time.timestamp(),
        scored_at=prediction.scored_at.timestamp(),
        probability=prediction.fraud_probability,
        decision=prediction.is_fraud,
        threshold=prediction.threshold,
        batch_as_of=None if as_of is None else as_of.timestamp(),
        record=to_wire_dict(prediction),
    )


@dataclass
class Rejected:
    """A record that failed to decode: where it came from and why."""

    topic: str
    partition: int
    offset: int
    error: str
    value: bytes | None


@dataclass
class BatchBuilder:
    """Collects one poll's records by topic; ``build`` gives the batch with each partition's next offset."""

    settings: Settings
    predictions: list[PredictionRow] = field(default_factory=list)
    labels: list[LabelRow] = field(default_factory=list)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def add(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self.offsets[(topic, partition)] = max(self.offsets.get((topic, partition), 0), offset + 1)
        s = self.settings
        try:
            if topic == s.topic_predictions:
                prediction = decode(Prediction, value)
                self.predictions.append(prediction_row(prediction))
            elif topic == s.topic_labels:
                label = decode(Label, value)
                self.labels.append(LabelRow(label.tid, label.is_fraud, label.labelled_at.timestamp(), time.time()))
            elif topic == s.topic_dead_letter:
                letter = decode(DeadLetter, value)
                self.dead_letters.append(
                    DeadLetterRow(
                        letter.stage, reason_of(letter.error), letter.source_topic, letter.failed_at.timestamp()
                    )
                )
        except DecodeError as exc:
            self.rejected.append(Rejected(topic, partition, offset, str(exc), value))

    def build(self) -> Batch:
        return Batch(self.predictions, self.labels, self.dead_letters, self.offsets)
