"""Reading, selecting, validating and encoding records for the producer (no broker needed)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudstream.generator import GeneratorConfig, generate, write_transactions
from fraudstream.generator.table import TRANSACTION_SCHEMA
from fraudstream.messages import Label, Transaction, decode, encode
from fraudstream.producer import Pacer
from fraudstream.record_source import Selection, file_batches, line_batches

CONFIG = GeneratorConfig(cards=40, transactions=3_000, start="2020-01-01", end="2020-01-04", fraud_ratio=0.01, seed=3)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def parquet(rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_transactions(rows, tmp_path_factory.mktemp("src") / "tx.parquet")


def all_records(path: Path, selection: Selection, batch_rows: int = 700) -> tuple[list, list, list, list]:
    keys, values, labels, rejected = [], [], [], []
    for batch in file_batches(path, selection, batch_rows=batch_rows):
        keys += batch.keys
        values += batch.values
        labels += batch.labels
        rejected += batch.rejected
    return keys, values, labels, rejected


def test_file_values_decode_to_the_rows_and_match_model_encoding(parquet: Path, rows: pd.DataFrame) -> None:
    keys, values, labels, rejected = all_records(parquet, Selection())
    assert rejected == [] and len(values) == len(rows)
    for i in range(0, len(rows), 97):
        row = rows.iloc[i]
        tx = decode(Transaction, values[i])
        assert (tx.tid, tx.cc_num, tx.amount) == (row.tid, row.cc_num, row.amount)
        assert tx.trans_time == row.trans_time.to_pydatetime()
        assert keys[i] == row.cc_num.encode()
        assert json.loads(values[i]) == json.loads(encode(tx))  # same record as the model codec
        label = decode(Label, labels[i])
        assert label.is_fraud == bool(row.fraud_label) and label.tid == row.tid and label.labelled_at == tx.trans_time
        assert labels[i] == encode(label)


def test_time_slice_and_limit(parquet: Path, rows: pd.DataFrame) -> None:
    lo, hi = datetime(2020, 1, 2, tzinfo=UTC), datetime(2020, 1, 3, tzinfo=UTC)
    _, values, _, _ = all_records(parquet, Selection(from_time=lo, to_time=hi))
    expected = rows[(rows.trans_time >= lo) & (rows.trans_time < hi)]
    assert [decode(Transaction, v).tid for v in values] == expected.tid.tolist()
    _, limited, _, _ = all_records(parquet, Selection(from_time=lo, limit=25))
    assert [decode(Transaction, v).tid for v in limited] == expected.tid.tolist()[:25]


def test_retime_shifts_so_the_slice_starts_now(parquet: Path, rows: pd.DataFrame) -> None:
    now = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    _, values, labels, _ = all_records(parquet, Selection(retime=True, now=now, limit=50))
    times = [decode(Transaction, v).trans_time for v in values]
    assert times[0] == now
    original = [t.to_pydatetime() for t in rows.trans_time.iloc[:50]]
    assert [t - times[0] for t in times] == [t - original[0] for t in original]  # spacing kept
    assert decode(Label, labels[49]).labelled_at == times[49]


def test_bad_rows_are_split_off_with_reasons(rows: pd.DataFrame, tmp_path: Path) -> None:
    table = pa.Table.from_pandas(rows.head(10), preserve_index=False).cast(TRANSACTION_SCHEMA)
    data = table.to_pydict()
    data["amount"][2] = float("nan")
    data["amount"][4] = -5.0
    data["cc_num"][6] = "1234"
    data["amount"][8] = 5e9
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(data, schema=TRANSACTION_SCHEMA), path)
    _, values, _, rejected = all_records(path, Selection())
    assert len(values) == 6
    reasons = sorted(r.error for r in rejected)
    assert any(r.startswith("amount: not a finite number") for r in reasons)
    assert any(r.startswith("amount: negative amount") for r in reasons)
    assert any(r.startswith("amount: absurd amount") for r in reasons)
    assert any(r.startswith("cc_num: card number must be 16 digits") for r in reasons)
    assert all(json.loads(r.payload)["tid"] for r in rejected)


def test_ids_needing_escapes_fall_back_to_the_model_encoder(rows: pd.DataFrame, tmp_path: Path) -> None:
    odd = rows.head(5).copy()
    odd["tid"] = ['a"b', "c\\d", "e", "f g", "h"]
    _, values, labels, rejected = all_records(write_transactions(odd, tmp_path / "odd.parquet"), Selection())
    assert not rejected
    assert [decode(Transaction, v).tid for v in values] == ['a"b', "c\\d", "e", "f g", "h"]
    assert decode(Label, labels[0]).tid == 'a"b'


def test_json_lines_with_bad_lines_and_labels() -> None:
    good = {"tid": "t1", "cc_num": "4111111111111111", "amount": 5.5, "trans_time": "2020-01-01T00:00:00.000Z"}
    lines = [
        json.dumps({**good, "fraud_label": 1}),
        "not json",
        json.dumps({**good, "tid": "t2", "amount": -1}),
        "",
        json.dumps({**good, "tid": "t3", "trans_time": "2020-01-01T00:01:00.000Z"}),
    ]
    stream = io.BytesIO(("\n".join(lines) + "\n").encode())
    batches = list(line_batches(stream, Selection()))
    values = [v for b in batches for v in b.values]
    labels = [lb for b in batches for lb in b.labels]
    rejected = [r for b in batches for r in b.rejected]
    assert [decode(Transaction, v).tid for v in values] == ["t1", "t3"]
    assert decode(Label, labels[0]).is_fraud is True and labels[1] is None
    assert [(r.offset, r.error.split(":")[0]) for r in rejected] == [(2, "<record>"), (3, "amount")]
    assert np.concatenate([b.times_ms for b in batches]).tolist() == [1577836800000, 1577836860000]


def test_pacer_rate_and_speedup_offsets() -> None:
    by_rate = Pacer(rate=100)
    assert by_rate.due_offsets(np.zeros(3, dtype=np.int64)).tolist() == [0.0, 0.01, 0.02]
    assert by_rate.due_offsets(np.zeros(2, dtype=np.int64)).tolist() == [0.03, 0.04]
    by_time = Pacer(speedup=60)
    assert by_time.due_offsets(np.array([0, 60_000, 120_000])).tolist() == [0.0, 1.0, 2.0]
    assert Pacer().due_offsets(np.zeros(2, dtype=np.int64)) is None
    with pytest.raises(ValueError):
        Pacer(rate=10, speedup=2)


def test_prefetch_keeps_order_and_reraises_worker_errors() -> None:
    from fraudstream.producer import prefetch

    assert list(prefetch(iter(range(10)))) == list(range(10))  # type: ignore[arg-type]

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise FileNotFoundError("gone")

    got = []
    with pytest.raises(FileNotFoundError, match="gone"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]


RICH = GeneratorConfig(
    cards=40, transactions=3_000, start="2020-01-01", end="2020-01-04", fraud_ratio=0.01, seed=3, profile="rich",
    merchants=300,
)  # fmt: skip


@pytest.mark.parametrize("name", ["rich.parquet", "rich.csv"])
def test_rich_files_send_the_merchant_and_labels_carry_labelled_at(name: str, tmp_path: Path) -> None:
    rows = generate(RICH)
    path = write_transactions(rows, tmp_path / name)
    batches = list(file_batches(path, Selection(), batch_rows=700))
    values = [v for b in batches for v in b.values]
    labels = [lb for b in batches for lb in b.labels]
    label_times = np.concatenate([b.label_times_ms for b in batches])
    for i in range(0, len(rows), 89):
        row = rows.iloc[i]
        tx = decode(Transaction, values[i])
        assert tx.merchant == row.merchant and json.loads(values[i]) == json.loads(encode(tx))
        label = decode(Label, labels[i])
        assert label.labelled_at == row.labelled_at.to_pydatetime() > tx.trans_time
        assert labels[i] == encode(label)
    expected = rows["labelled_at"].astype("int64").to_numpy()  # datetime64[ms]: epoch milliseconds
    assert (label_times == expected).all()


def test_retime_shifts_labelled_at_with_the_transaction(tmp_path: Path) -> None:
    rows = generate(RICH)
    path = write_transactions(rows, tmp_path / "rich.parquet")
    now = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    (batch,) = list(file_batches(path, Selection(retime=True, now=now, limit=20)))
    delay_ms = (rows.labelled_at - rows.trans_time).iloc[:20].dt.total_seconds().mul(1000).astype(int).tolist()
    assert decode(Transaction, batch.values[0]).trans_time == now
    assert (batch.label_times_ms - batch.times_ms).tolist() == delay_ms
    labelled = [decode(Label, label).labelled_at for label in batch.labels]
    assert [int(t.timestamp() * 1000) for t in labelled] == batch.label_times_ms.tolist()


def test_blank_or_missing_merchant_and_labelled_at_fall_back(tmp_path: Path) -> None:
    rows = generate(RICH).head(4).copy()
    rows["merchant"] = ["m-1", "", None, "m-2"]
    rows.loc[1, "labelled_at"] = pd.NaT
    (batch,) = list(file_batches(write_transactions(rows, tmp_path / "r.parquet"), Selection()))
    assert [decode(Transaction, v).merchant for v in batch.values] == ["m-1", None, None, "m-2"]
    assert b'"merchant"' not in batch.values[1] and b'"merchant"' not in batch.values[2]
    assert decode(Label, batch.labels[1]).labelled_at == rows.trans_time.iloc[1].to_pydatetime()


def test_seed_files_have_no_label_times(parquet: Path) -> None:
    assert all(
        b.label_times_ms is None and b'"merchant"' not in b.values[0] for b in file_batches(parquet, Selection())
    )


def test_pacer_label_offsets_only_when_replaying_by_time() -> None:
    by_time = Pacer(speedup=60)
    assert by_time.label_offsets(np.array([60_000])) is None  # no batch yet: no clock
    by_time.due_offsets(np.array([0, 60_000]))
    assert by_time.label_offsets(np.array([120_000, 30_000])).tolist() == [2.0, 0.5]
    by_rate = Pacer(rate=10)
    by_rate.due_offsets(np.zeros(2, dtype=np.int64))
    assert by_rate.label_offsets(np.array([5_000])) is None


def test_json_lines_labels_carry_labelled_at() -> None:
    good = {"tid": "t1", "cc_num": "4111111111111111", "amount": 5.5, "trans_time": "2020-01-01T00:00:00.000Z"}
    lines = [
        json.dumps({**good, "is_fraud": True, "labelled_at": "2020-01-05T00:00:00.000Z", "merchant": "m-000007"}),
        json.dumps({**good, "tid": "t2", "fraud_label": 0}),
        json.dumps({**good, "tid": "t3", "fraud_label": 1, "labelled_at": "yesterday"}),
    ]
    (batch,) = list(line_batches(lines, Selection()))
    assert decode(Label, batch.labels[0]).labelled_at == datetime(2020, 1, 5, tzinfo=UTC)
    assert decode(Transaction, batch.values[0]).merchant == "m-000007"
    assert decode(Label, batch.labels[1]).labelled_at == datetime(2020, 1, 1, tzinfo=UTC)  # known at once
    assert (batch.label_times_ms - batch.times_ms).tolist() == [4 * 86_400_000, 0]
    assert [(r.offset, r.error.split(":")[0]) for r in batch.rejected] == [(3, "labelled_at")]
