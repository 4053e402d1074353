"""The scorer's model inputs are the trainer's: same function, same missing values, same edge cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fraudstream import features as F
from fraudstream.endpoint_client import EndpointResult, parse_response, request_body
from fraudstream.handlers.fraud_scorer import ScoringRow, build_prediction, model_inputs
from fraudstream.handlers.msk_event import KafkaRecord
from fraudstream.handlers.scoring_config import Verdict
from fraudstream.messages import CardAggregate, decode, encode

CARD = "4111111111111111"
# (amount, n10, avg10, max10, week features or None)
EDGE_CASES = [
    (25.0, 1, 25.0, 25.0, None),  # no 1-week history: every ratio missing
    (0.0, 2, 0.0, 0.0, {"num_trans_last_1w": 5, "avg_amt_last_1w": 40.0}),  # zero amounts: ratios 0
    (12.5, 3, 10.0, 12.5, {"num_trans_last_1w": 0, "avg_amt_last_1w": 0.0}),  # zero denominators: missing
    (99.99, 7, 60.0, 99.99, {"num_trans_last_1w": 14, "avg_amt_last_1w": 33.33}),  # ordinary
    (5000.0, 1, 5000.0, 5000.0, {"num_trans_last_1w": 1, "avg_amt_last_1w": 0.01}),  # huge ratio
]


def _rows() -> list[ScoringRow]:
    rows = []
    for i, (amount, n10, avg10, max10, week) in enumerate(EDGE_CASES):
        agg = CardAggregate(
            tid=f"t{i}",
            cc_num=CARD,
            amount=amount,
            trans_time="2020-03-01T10:00:00.000Z",
            num_trans_last_10m=n10,
            avg_amt_last_10m=avg10,
            max_amt_last_10m=max10,
        )
        rows.append(ScoringRow(KafkaRecord("cc-agg", 0, i, 0, "CREATE_TIME", None, encode(agg)), agg, week))
    return rows


def _trainer_frame() -> pd.DataFrame:
    """The same transactions as the training set holds them (missing history = NaN/NULL)."""
    return pd.DataFrame(
        {
            "amount": [c[0] for c in EDGE_CASES],
            F.NUM_TRANS_LAST_10M: [c[1] for c in EDGE_CASES],
            F.AVG_AMT_LAST_10M: [c[2] for c in EDGE_CASES],
            F.MAX_AMT_LAST_10M: [c[3] for c in EDGE_CASES],
            F.NUM_TRANS_LAST_1W: [np.nan if c[4] is None else c[4]["num_trans_last_1w"] for c in EDGE_CASES],
            F.AVG_AMT_LAST_1W: [np.nan if c[4] is None else c[4]["avg_amt_last_1w"] for c in EDGE_CASES],
        }
    )


@pytest.mark.parametrize("feature_set", sorted(F.FEATURE_SETS))
def test_scorer_inputs_equal_trainer_inputs(feature_set: str) -> None:
    from fraudstream.model.dataset import feature_matrix

    scorer = model_inputs(_rows(), feature_set)
    trainer = feature_matrix(_trainer_frame(), feature_set)
    np.testing.assert_array_equal(scorer, trainer)  # NaN positions must match too


def test_edge_case_values() -> None:
    m = model_inputs(_rows(), "anchor")
    assert m[0, 0] == 25.0 and np.isnan(m[0, 1:]).all()  # no history → missing ratios
    assert list(m[1]) == [0.0, 0.0, 0.0, 2 / 5]  # zero amounts → zero ratios, not missing
    assert np.isnan(m[2, 1:]).all()  # zero 1-week denominators → missing
    assert m[3, 1] == 60.0 / 33.33 and m[3, 2] == 99.99 / 33.33 and m[3, 3] == 7 / 14


def test_missing_inputs_travel_as_null_and_land_as_null_in_predictions() -> None:
    rows = _rows()
    matrix = model_inputs(rows, "anchor")
    body = json.loads(request_body([list(r) for r in matrix]))
    assert body["instances"][0] == [25.0, None, None, None]
    names = F.model_input_names("anchor")
    line = [None if math.isnan(v) else v for v in matrix[0]]
    pred = build_prediction(
        rows[0], dict(zip(names, line, strict=True)), 0.9, Verdict(0.5, "v1", "anchor"), rows[0].agg.trans_time
    )
    wire = json.loads(encode(pred))
    assert wire["amt_ratio1"] is None and wire["count_ratio"] is None and wire["num_trans_last_1w"] is None
    assert wire["is_fraud"] is True and wire["threshold"] == 0.5
    assert decode(type(pred), encode(pred)) == pred


def test_endpoint_answer_validation() -> None:
    ok = parse_response(
        b'{"predictions": [0.1, 0.9], "model_version": "v7", "threshold": 0.8, "feature_set": "anchor"}', 2
    )
    assert ok == EndpointResult([0.1, 0.9], "v7", 0.8, "anchor")
    from fraudstream.endpoint_client import EndpointError

    for bad in (b'{"predictions": [0.1]}', b'{"predictions": [1.5, 0.1]}', b"oops", b'{"predictions": ["a", 0.1]}'):
        with pytest.raises(EndpointError):
            parse_response(bad, 2)
