"""Helpers: predictions and labels as the scorer and the label feed write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fraudstream.messages import Label, Prediction, encode

T0 = datetime(2020, 3, 1, tzinfo=UTC)


def prediction(i: int, probability: float, scored_at: datetime | None = None, amount: float = 50.0) -> Prediction:
    scored_at = scored_at or datetime.now(UTC)
    return Prediction(
        tid=f"t{i}",
        cc_num="4300000000000001",
        amount=amount,
        trans_time=scored_at - timedelta(milliseconds=40),
        amt_ratio1=1.0,
        amt_ratio2=amount / 50.0,
        count_ratio=0.1,
        num_trans_last_10m=1,
        avg_amt_last_10m=amount,
        num_trans_last_1w=10,
        avg_amt_last_1w=50.0,
        batch_as_of=scored_at - timedelta(hours=20),  # the 1-week features are 20 h old
        fraud_probability=probability,
        is_fraud=probability >= 0.5,
        threshold=0.5,
        model_version="v-test",
        feature_set="anchor",
        scored_at=scored_at,
    )


def label(i: int, is_fraud: bool, minutes_after: float) -> Label:
    return Label(tid=f"t{i}", is_fraud=is_fraud, labelled_at=datetime.now(UTC) + timedelta(minutes=minutes_after))


def wire(record) -> bytes:
    return encode(record)
