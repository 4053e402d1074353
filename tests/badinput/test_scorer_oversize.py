"""A valid transaction whose prediction would be over Kafka's record limit is that record's dead letter.

The contract sets no length on ``tid``; 170,000 CJK characters (a ~510 KB transaction) pass every
check, and the scorer's ASCII-escaped prediction is 1.02 MB, which librdkafka refuses at
``produce()``: the batch failed and was retried forever. Now the row is rejected (the handler
dead-letters it) and the other rows of the batch are written.
"""

from __future__ import annotations

from fraudstream import features
from fraudstream.handlers.fraud_scorer import MAX_PREDICTION_BYTES, ScoringRow, encode_predictions, model_inputs
from fraudstream.handlers.msk_event import KafkaRecord
from fraudstream.handlers.scoring_config import Verdict
from fraudstream.messages import CardAggregate, encode

CARD = "4000000000000011"


def _row(offset: int, tid: str) -> ScoringRow:
    agg = CardAggregate(
        tid=tid,
        cc_num=CARD,
        amount=12.5,
        trans_time="2026-01-05T12:00:00.000Z",
        num_trans_last_10m=1,
        avg_amt_last_10m=12.5,
        max_amt_last_10m=12.5,
    )
    return ScoringRow(KafkaRecord("cc-agg", 0, offset, 0, "CREATE_TIME", CARD.encode(), encode(agg)), agg, None)


def test_an_oversize_prediction_is_rejected_and_the_rest_written() -> None:
    from datetime import UTC, datetime

    rows = [_row(0, "t-small"), _row(1, "\u4e2d" * 170_000), _row(2, "t-after")]
    feature_set = "anchor"
    names = features.model_input_names(feature_set)
    inputs = [[None if v != v else v for v in line] for line in model_inputs(rows, feature_set).tolist()]
    rejects: list = []
    out = encode_predictions(
        rows, names, inputs, [0.1, 0.2, 0.3], Verdict(0.5, "v1", feature_set), datetime.now(UTC), rejects
    )
    assert [len(value) < MAX_PREDICTION_BYTES for _, value in out] == [True, True]
    assert [b'"t-small"' in out[0][1], b'"t-after"' in out[1][1]] == [True, True]
    [(record, reason)] = rejects
    assert record.offset == 1 and reason.startswith("score: prediction of ") and "-byte limit" in reason
