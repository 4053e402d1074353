"""The demo's batch stage runs the nightly load and the training set at the same time on one
SparkSession (``demo.pipeline._nightly_and_training``): both must come out as if run one after the other,
and, narrowed to the demo's feature sets, equal the full runs on what they keep."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from fraudstream import features as F
from fraudstream.batch.nightly import run_nightly
from fraudstream.batch.scope import DERIVED_INPUT_COLUMNS, BatchScope
from fraudstream.batch.training_set import build_training_set
from fraudstream.demo.pipeline import _nightly_and_training, read_stamp, stamp_covers
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP
from fraudstream.model.dataset import feature_matrix, load_training_set

from .helpers import RICH_AS_OF, random_transactions, rich_transactions
from .test_nightly_groups import _scan
from .test_nightly_load import expected_week, scan_batch_table


def test_nightly_and_training_set_together_equal_each_alone(spark, isolated_tables, tmp_path: Path) -> None:
    data = Path(random_transactions(tmp_path / "tx.parquet", cards=30, rows=2500))
    as_of = date(2020, 1, 20)
    details = _nightly_and_training(
        spark, data, tmp_path / "training", as_of, "fp-1", isolated_tables, Console(quiet=True), True, True
    )
    expected = expected_week(str(data), as_of)
    assert details == [f"nightly {as_of}: {len(expected)} cards", "training set: 2500 rows"]
    stored = scan_batch_table(isolated_tables)
    assert {card: int(item["num_trans_last_1w"]) for card, item in stored.items()} == {
        card: count for card, (count, _) in expected.items()
    }
    rows = pd.read_parquet(tmp_path / "training")
    assert sorted(rows["tid"]) == sorted(pd.read_parquet(data)["tid"])
    assert read_stamp(isolated_tables, "nightly") == {"data": "fp-1", "as_of": as_of.isoformat()}
    assert read_stamp(isolated_tables, "training-set") == {"data": "fp-1", "rows": 2500}


def test_the_demos_scope_computes_only_what_its_model_reads_with_the_full_values(
    spark, isolated_tables, tmp_path: Path
) -> None:
    """``extended`` reads the 1-week group only: the demo loads no card windows or merchant items and
    writes no such columns, and what it does load and write equals the full runs' for the same data."""
    data = Path(rich_transactions(tmp_path / "tx.parquet"))  # merchants and labels: every group has keys
    scope = BatchScope.for_feature_sets(["extended"])
    assert scope.groups == () and set(scope.inputs) == set(F.EXTENDED_INPUTS) - {"amount", F.NUM_TRANS_LAST_10M}
    details = _nightly_and_training(
        spark, data, tmp_path / "demo", RICH_AS_OF, "fp-2", isolated_tables, Console(quiet=True), True, True, scope
    )
    assert details[0] == f"nightly {RICH_AS_OF}: {len(expected_week(str(data), RICH_AS_OF))} cards"
    demo_items = scan_batch_table(isolated_tables)
    assert _scan(isolated_tables, CARD_WINDOWS_GROUP) == {} and _scan(isolated_tables, MERCHANT_GROUP) == {}

    full = run_nightly(spark, str(data), RICH_AS_OF, isolated_tables)  # the same night, every group
    assert (full["written"], full["failed"]) == (len(demo_items), 0)  # the same keys rewritten (equal as_of) ...
    assert scan_batch_table(isolated_tables) == demo_items  # ... with the same values
    assert full["card_windows"] > 0 and full["merchant"] > 0  # the groups the demo did not compute

    build_training_set(spark, str(data), str(tmp_path / "full"))
    demo_rows = pd.read_parquet(tmp_path / "demo").sort_values("tid", ignore_index=True)
    full_rows = pd.read_parquet(tmp_path / "full").sort_values("tid", ignore_index=True)
    left_out = set(full_rows.columns) - set(demo_rows.columns)
    assert left_out == {*F.CARD_WINDOW_FEATURES, *F.CARD_AMOUNT_PROFILE, *F.MERCHANT_FEATURES} | (
        set(DERIVED_INPUT_COLUMNS) - set(scope.inputs)
    )
    pd.testing.assert_frame_equal(demo_rows, full_rows[list(demo_rows.columns)], check_exact=True)
    assert demo_rows[F.NUM_TRANS_LAST_1W].notna().sum() > 1000

    demo_set, full_set = load_training_set(tmp_path / "demo"), load_training_set(tmp_path / "full")
    for feature_set in ("anchor", "extended"):  # what the trainer reads: the same matrix
        np.testing.assert_array_equal(feature_matrix(demo_set, feature_set), feature_matrix(full_set, feature_set))
    with pytest.raises(ValueError, match="needs nightly values"):  # never a silent NaN for a wider set
        feature_matrix(demo_set, "merchant-risk")

    # the stamps say what was computed: a demo serving merchant-risk would rebuild both
    wider = BatchScope.for_feature_sets(["merchant-risk"])
    for stage in ("nightly", "training-set"):
        stamp = read_stamp(isolated_tables, stage)
        assert stamp_covers(stamp, "fp-2", scope) and not stamp_covers(stamp, "fp-2", wider)
        assert not stamp_covers(stamp, "fp-other", scope)
    assert stamp_covers({"data": "fp-2"}, "fp-2", wider)  # a stamp of before scopes: a full run
