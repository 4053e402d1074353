"""Tokenisation at every edge where card numbers enter (issue 19): the producer's file and stdin
sources, the replay plan (scenarios and live traffic), and the edge rule itself. With a key, only
tokens come out, malformed numbers are redacted yet still rejected for the same reason; without a
key nothing changes. Spark (batch/io) and ``featurestore get`` are covered with real engines in
tests/tokenise/test_tokenised_pipeline.py."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from fraudstream import tokenise as tk
from fraudstream.generator import write_transactions
from fraudstream.generator.table import TRANSACTION_SCHEMA
from fraudstream.messages import Label, Transaction, decode
from fraudstream.record_source import Selection, file_batches, line_batches
from fraudstream.replay.plan import PlannedTransaction, plan_scenario
from fraudstream.replay.scenario_file import Scenario
from fraudstream.replay.scenarios import builtin_scenario

KEY = bytes(range(32))
CARDS = ["4111111111111111", "5555555555554444", "4000056655665556"]
MALFORMED = "4111-1111-1111-1111"
BASE = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tk.Tokeniser]:
    """Tokenisation on for one test (the process-wide tokeniser re-read before and after)."""
    monkeypatch.delenv(tk.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(tk.KEY_ENV, KEY.hex())
    tk.get_tokeniser.cache_clear()
    yield tk.get_tokeniser()
    tk.get_tokeniser.cache_clear()


@pytest.fixture
def unkeyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(tk.KEY_ENV, raising=False)
    monkeypatch.delenv(tk.KEY_FILE_ENV, raising=False)
    tk.get_tokeniser.cache_clear()
    yield
    tk.get_tokeniser.cache_clear()


# ----------------------------------------------------------------------------- the edge rule


def test_at_edge_tokenises_cards_and_redacts_anything_else(keyed: tk.Tokeniser) -> None:
    for card in CARDS:
        assert keyed.at_edge(card) == tk.token_for(card, KEY)
    redacted = keyed.at_edge(MALFORMED)
    assert redacted.startswith(tk.REDACTED_PREFIX) and "1111" not in redacted
    assert redacted == keyed.at_edge(MALFORMED) != keyed.at_edge("4111 1111 1111 1111")  # stable, distinct
    assert not tk.CARD_NUMBER.fullmatch(redacted)  # still invalid: rejected as before
    assert keyed.at_edge(4111111111111111).startswith(tk.REDACTED_PREFIX)  # a JSON number is not a cc_num
    assert keyed.at_edge(None) is None
    token = keyed.at_edge(CARDS[0])
    assert keyed.at_edge(token) == token  # a record that crosses two edges


def test_off_the_edge_is_the_identity() -> None:
    off = tk.Tokeniser(None)
    assert off.many_at_edge([CARDS[0], MALFORMED, None]) == [CARDS[0], MALFORMED, None]
    assert off.json_line('{"cc_num": "4111111111111111"}') == '{"cc_num": "4111111111111111"}'


def test_json_line_replaces_only_the_card_number(keyed: tk.Tokeniser) -> None:
    line = json.dumps({"tid": "t1", "cc_num": CARDS[1], "amount": 12.5, "trans_time": "2020-03-01T12:00:00.000Z"})
    assert json.loads(keyed.json_line(line)) == {**json.loads(line), "cc_num": tk.token_for(CARDS[1], KEY)}
    broken = '{"tid": "t2", "cc_num": "4111111111111111", "amount": 1,'  # not JSON: card-like runs tokenised
    assert keyed.json_line(broken) == broken.replace(CARDS[0], tk.token_for(CARDS[0], KEY))
    assert keyed.json_line('{"tid": "1234567890123"}') == '{"tid": "1234567890123"}'  # fails Luhn: kept


def test_arrow_column_equals_the_per_value_rule(keyed: tk.Tokeniser) -> None:
    column = pa.chunked_array([[CARDS[0], None, CARDS[1]], [CARDS[0], MALFORMED]])
    assert tk.tokenise_column(column).to_pylist() == keyed.many_at_edge(column.to_pylist())


# ----------------------------------------------------------------------------- the producer's sources


def _table() -> pa.Table:
    cards = [*CARDS, *CARDS, MALFORMED]
    return pa.table(
        {
            "tid": [f"t{i}" for i in range(len(cards))],
            "trans_time": [BASE + timedelta(minutes=i) for i in range(len(cards))],
            "cc_num": cards,
            "amount": [10.0 + i for i in range(len(cards))],
            "fraud_label": [i % 2 for i in range(len(cards))],
            "attack_id": [None] * len(cards),
            "attack_kind": [None] * len(cards),
        },
        schema=TRANSACTION_SCHEMA,
    )


def _file_output(path) -> tuple[list, list, list, list]:
    keys, values, labels, rejected = [], [], [], []
    for batch in file_batches(path, Selection(), batch_rows=4):
        keys += batch.keys
        values += batch.values
        labels += batch.labels
        rejected += batch.rejected
    return keys, values, labels, rejected


def _no_card_in(blobs: list[bytes | str]) -> bool:
    text = b"\n".join(b if isinstance(b, bytes) else b.encode() for b in blobs)
    return not any(secret.encode() in text for secret in [*CARDS, MALFORMED])


def test_file_source_sends_tokens_only(keyed: tk.Tokeniser, tmp_path) -> None:
    keys, values, labels, rejected = _file_output(write_transactions(_table(), tmp_path / "tx.parquet"))
    tokens = [tk.token_for(card, KEY) for card in CARDS] * 2
    assert [decode(Transaction, v).cc_num for v in values] == tokens
    assert keys == [t.encode() for t in tokens]
    assert [decode(Label, label).cc_num for label in labels] == tokens
    assert len(rejected) == 1 and "16 digits" in rejected[0].error  # the same reason as without a key
    assert _no_card_in(keys + values + labels + [r.payload + r.error for r in rejected])


def test_file_source_unchanged_without_a_key(unkeyed: None, tmp_path) -> None:
    keys, values, _, rejected = _file_output(write_transactions(_table(), tmp_path / "tx.parquet"))
    assert [decode(Transaction, v).cc_num for v in values] == CARDS * 2 and keys == [c.encode() for c in CARDS * 2]
    assert len(rejected) == 1 and MALFORMED in rejected[0].payload


def test_stdin_source_sends_tokens_only(keyed: tk.Tokeniser) -> None:
    lines = [
        json.dumps({"tid": f"s{i}", "cc_num": card, "amount": 5, "trans_time": "2020-03-01T12:00:00Z", "is_fraud": 1})
        for i, card in enumerate([*CARDS, MALFORMED])
    ]
    lines.append('{"tid": "s9", "cc_num": "4111111111111111",')  # not JSON
    stream = io.BytesIO(("\n".join(lines) + "\n").encode())
    batches = list(line_batches(stream, Selection()))
    values = [v for b in batches for v in b.values]
    labels = [label for b in batches for label in b.labels]
    rejected = [r for b in batches for r in b.rejected]
    assert [decode(Transaction, v).cc_num for v in values] == [tk.token_for(c, KEY) for c in CARDS]
    assert [decode(Label, label).cc_num for label in labels] == [tk.token_for(c, KEY) for c in CARDS]
    assert [r.offset for r in rejected] == [4, 5] and "16 digits" in rejected[0].error
    assert _no_card_in(values + labels + [r.payload + r.error for r in rejected])


# ----------------------------------------------------------------------------- the replay plan


def test_scenario_plan_tokenises_fresh_and_given_cards(keyed: tk.Tokeniser) -> None:
    scenario = builtin_scenario("seed-article").model_dump()
    scenario["cards"][0]["cc_num"] = CARDS[0]  # a user's scenario naming a real card
    plan = plan_scenario(Scenario.model_validate(scenario), BASE, rng=random.Random(1))
    alias = scenario["cards"][0]["alias"]
    assert plan.card_numbers[alias] == tk.token_for(CARDS[0], KEY)
    assert all(tk.is_token(n) for n in plan.card_numbers.values())
    assert {t.cc_num for t in plan.transactions} <= set(plan.card_numbers.values())
    assert {h.cc_num for h in plan.histories} <= set(plan.card_numbers.values())  # seeded history joins


def test_live_traffic_plan_names_cards_by_token(keyed: tk.Tokeniser) -> None:
    planned = PlannedTransaction(0, "live-1", CARDS[2], CARDS[2], 10.0, BASE, 0.0, "normal")
    assert planned.cc_num == planned.card == tk.token_for(CARDS[2], KEY)
    scenario = PlannedTransaction(1, "rp-1", CARDS[2], "victim", 10.0, BASE, 0.0, "attack")
    assert scenario.card == "victim"  # an alias is kept


def test_plan_unchanged_without_a_key(unkeyed: None) -> None:
    planned = PlannedTransaction(0, "live-1", CARDS[2], CARDS[2], 10.0, BASE, 0.0, "normal")
    assert planned.cc_num == planned.card == CARDS[2]
