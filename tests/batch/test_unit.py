"""Pure helpers of the batch job (no Spark)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pytest

from fraudstream import features as F
from fraudstream.batch.io import input_format
from fraudstream.batch.nightly import as_of_text, to_records
from fraudstream.batch.scope import DERIVED_INPUT_COLUMNS, FULL, MODEL_INPUT_COLUMNS, BatchScope
from fraudstream.batch.spark_session import session_conf
from fraudstream.batch.summary import write_summary
from fraudstream.batch.weekly_features import as_day, as_of_literal
from fraudstream.featurestore.groups import CARD_WINDOWS_GROUP, MERCHANT_GROUP


def test_as_day_accepts_dates_midnights_and_text() -> None:
    assert as_day("2020-03-02") == date(2020, 3, 2)
    assert as_day("2020-03-02T00:00:00Z") == date(2020, 3, 2)
    assert as_day(datetime(2020, 3, 2, tzinfo=UTC)) == date(2020, 3, 2)
    assert as_of_literal("2020-03-02") == "TIMESTAMP '2020-03-02 00:00:00'"


@pytest.mark.parametrize("bad", ["2020-03-02T00:00:01Z", "2020-03-02T00:00:00+01:00"])
def test_as_day_rejects_non_utc_midnights(bad: str) -> None:
    with pytest.raises(ValueError, match="UTC midnight"):
        as_day(bad)


def test_as_of_is_the_midnight_in_the_messages_format() -> None:
    assert as_of_text(date(2020, 3, 2)) == "2020-03-02T00:00:00.000Z"
    records = to_records([{"cc_num": "4" * 16, F.NUM_TRANS_LAST_1W: 3, F.AVG_AMT_LAST_1W: 2.5}], as_of=date(2020, 3, 2))
    assert records == [
        {"cc_num": "4" * 16, F.NUM_TRANS_LAST_1W: 3, F.AVG_AMT_LAST_1W: 2.5, "as_of": "2020-03-02T00:00:00.000Z"}
    ]


def test_training_columns_cover_every_feature_set() -> None:
    for names in F.FEATURE_SETS.values():
        assert set(names) - {"amount"} <= set(MODEL_INPUT_COLUMNS)
    assert F.NUM_TRANS_LAST_10M not in DERIVED_INPUT_COLUMNS
    ratios = {F.AMT_RATIO1, F.AMT_RATIO2, F.COUNT_RATIO, F.MAX_AMT_RATIO, *F.NIGHTLY_RATIOS}
    assert {*ratios, *F.CARD_AMOUNT_RATIOS, *F.CARD_AMOUNT_ZSCORES} == set(DERIVED_INPUT_COLUMNS)


def test_nightly_names_are_what_the_scorer_must_read() -> None:
    assert F.nightly_names("anchor") == F.nightly_names("extended") == ()
    needed = set(F.nightly_names("merchant-risk"))
    assert needed == {*F.CARD_WINDOW_FEATURES, *F.MERCHANT_WINDOW_FEATURES}  # 1-week pair: every set has it
    v2 = {*F.CARD_WINDOW_FEATURES, *F.MERCHANT_WINDOW_FEATURES, *F.MERCHANT_KNOWN_FRAUDS.values()}
    assert set(F.nightly_names("merchant-risk-v2")) == v2
    assert set(F.nightly_names("merchant-risk-v3")) == {*F.CARD_WINDOW_FEATURES, *F.MERCHANT_FEATURES}
    v4 = {*F.CARD_WINDOW_FEATURES, *F.CARD_AMOUNT_PROFILE, *F.MERCHANT_FEATURES}
    assert set(F.nightly_names("merchant-risk-v4")) == v4
    row = F.model_input_row(
        30.0,
        1,
        30.0,
        2,
        20.0,
        30.0,
        "merchant-risk",
        dict.fromkeys(needed) | {F.AVG_AMT_LAST_1D: 0.0, F.AVG_AMT_LAST_30D: 12.0},
    )
    named = dict(zip(F.MERCHANT_RISK_INPUTS, row, strict=True))
    assert (named[F.AMT_RATIO_1D], named[F.AMT_RATIO_30D], named[F.AVG_AMT_RATIO_1W_30D]) == (None, 2.5, 20.0 / 12.0)


def test_a_scope_keeps_the_groups_and_inputs_its_feature_sets_read() -> None:
    extended = BatchScope.for_feature_sets(["extended", "anchor"])
    assert extended.groups == () and extended.nightly_columns == F.BATCH_FEATURES
    assert extended.inputs == (F.AMT_RATIO1, F.AMT_RATIO2, F.COUNT_RATIO, F.MAX_AMT_RATIO)
    assert extended.lookback_days() == F.BATCH_WINDOW_DAYS  # the nightly run reads 8 days, not 38
    v4 = BatchScope.for_feature_sets(["merchant-risk-v4"])
    assert v4.groups == (CARD_WINDOWS_GROUP, MERCHANT_GROUP) and v4.lookback_days() == FULL.lookback_days() == 37
    assert set(v4.nightly_columns) == set(F.NIGHTLY_INPUTS) == set(FULL.nightly_columns)
    assert BatchScope.for_feature_sets(F.FEATURE_SETS).inputs == FULL.inputs == DERIVED_INPUT_COLUMNS
    assert FULL.covers(v4) and v4.covers(extended) and not extended.covers(v4)
    assert BatchScope.for_feature_sets(["merchant-risk"]).covers(extended)
    assert BatchScope.from_dict(extended.to_dict()) == extended and BatchScope.from_dict(None) == FULL


def test_local_conf_fits_the_machine_and_cluster_conf_does_not_force_it() -> None:
    local = session_conf("local[*]")
    assert local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.driver.memory"] == "2g"
    assert int(local["spark.sql.shuffle.partitions"]) <= 16
    assert local["spark.ui.enabled"] == "false"
    cluster = session_conf("spark://master:7077")
    assert cluster["spark.master"] == "spark://master:7077"
    assert "spark.driver.memory" not in cluster and "spark.sql.shuffle.partitions" not in cluster


def test_input_format_and_summary_file(tmp_path) -> None:
    assert input_format("data/tx.csv") == "csv"
    assert input_format("s3a://bucket/tx/") == "parquet"
    path = write_summary({"rows": 3}, tmp_path / "out" / "_summary.json")
    assert json.loads(path.read_text()) == {"rows": 3}
    assert write_summary({"rows": 3}, "s3a://bucket/out/_summary.json") is None


def test_cli_rejects_a_bad_day_before_starting_spark() -> None:
    from typer.testing import CliRunner

    from fraudstream.cli.main import app

    result = CliRunner().invoke(app, ["batch", "nightly", "--input", "x.parquet", "--as-of", "2020-13-01"])
    assert result.exit_code == 2
    assert "as-of" in result.output
    result = CliRunner().invoke(app, ["batch", "backfill", "--input", "x.parquet", "--from", "2020-01-01"])
    assert result.exit_code == 2 and "--to" in result.output


def test_an_empty_nightly_window_is_missing_whether_stored_as_0_or_absent() -> None:
    """The store keeps count 0 for a key whose windows emptied; the training set has NULL there."""
    nightly_absent = dict.fromkeys(F.NIGHTLY_INPUTS)
    nightly_zero = {n: 0 if n in F.NIGHTLY_COUNTS else None for n in F.NIGHTLY_INPUTS}
    args = (12.5, 1, 12.5)
    served = F.model_input_row(*args, 0, None, 12.5, feature_set="merchant-risk", nightly=nightly_zero)
    trained = F.model_input_row(*args, None, None, 12.5, feature_set="merchant-risk", nightly=nightly_absent)
    assert served == trained
    named = dict(zip(F.MERCHANT_RISK_INPUTS, served, strict=True))
    assert named[F.NUM_TRANS_LAST_1W] is None and named[F.MERCHANT_WINDOWS[30][0]] is None
    kept = F.model_input_row(
        *args,
        3,
        10.0,
        12.5,
        feature_set="merchant-risk",
        nightly={**nightly_absent, **{F.MERCHANT_WINDOWS[1][0]: 4, F.MERCHANT_WINDOWS[1][1]: 0.25}},
    )
    named = dict(zip(F.MERCHANT_RISK_INPUTS, kept, strict=True))
    assert (named[F.NUM_TRANS_LAST_1W], named[F.MERCHANT_WINDOWS[1][0]], named[F.MERCHANT_WINDOWS[1][1]]) == (
        3,
        4,
        0.25,
    )
    # the seed sets never used raw counts: a 0-count week still gives missing ratios only
    assert F.model_input_row(*args, 0, None)[1:] == [None, None, None]
    with pytest.raises(ValueError, match="needs nightly values"):
        F.model_input_row(*args, 3, 10.0, feature_set="merchant-risk")


def test_amount_zscore_and_max_ratio_against_the_30_day_profile() -> None:
    nightly = {n: [None, None] for n in F.nightly_names("merchant-risk-v4")}
    nightly[F.AVG_AMT_LAST_30D] = [20.0, 20.0]
    nightly[F.AMT_STD_LAST_30D] = [4.0, 0.0]  # one transaction in 30 days: deviation 0
    nightly[F.MAX_AMT_LAST_30D] = [50.0, None]
    inputs = F.compute_model_inputs(
        [100.0, 100.0], [1, 1], [100.0, 100.0], [2, 2], [20.0, 20.0], [100.0, 100.0], "merchant-risk-v4", nightly
    )
    named = dict(zip(F.MERCHANT_RISK_V4_INPUTS, inputs.T, strict=True))
    np.testing.assert_array_equal(named[F.AMT_ZSCORE_30D], [20.0, np.nan])
    np.testing.assert_array_equal(named[F.AMT_MAX_RATIO_30D], [2.0, np.nan])
    np.testing.assert_array_equal(named[F.AMT_STD_LAST_30D], [4.0, 0.0])
