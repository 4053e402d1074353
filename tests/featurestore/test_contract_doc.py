"""docs/contract.md lists what the code adds to DESIGN.md: checked against the code, so it cannot drift."""

from __future__ import annotations

from pathlib import Path

from fraudstream import features as F
from fraudstream.featurestore.groups import NIGHTLY_GROUPS
from fraudstream.messages import CardAggregate
from fraudstream.settings import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
DESIGN_CC_AGG = {"tid", "cc_num", "amount", "trans_time", "num_trans_last_10m", "avg_amt_last_10m"}
"""The ``cc-agg`` fields DESIGN.md names."""


def test_every_nightly_group_its_key_and_attributes_are_listed() -> None:
    text = CONTRACT.read_text()
    for group in NIGHTLY_GROUPS:
        table = Settings.model_fields[group.table_setting].default
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{table}` |")]
        assert f"`{group.record_identifier}`" in row, table
        for name, _ in group.features:
            assert f"`{name}`" in row, (table, name)
        assert f"FRAUDSTREAM_{group.table_setting.upper()}" in text


def test_every_cc_agg_field_beyond_the_design_is_listed() -> None:
    rows = [line for line in CONTRACT.read_text().splitlines() if line.startswith("| `cc-agg` |")]
    for field in set(CardAggregate.model_fields) - DESIGN_CC_AGG:
        assert any(f"`{field}`" in row for row in rows), field


def test_the_label_delay_rule_and_the_servable_sets_are_named() -> None:
    text = CONTRACT.read_text()
    assert "FRAUDSTREAM_LABEL_DELAY_DAYS" in text and f"default {F.LABEL_DELAY.delay_days}" in text
    for name in F.SERVABLE_FEATURE_SETS:
        assert f"`{name}`" in text
