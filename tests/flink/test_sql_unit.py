"""Unit tests of the job's SQL builders, its configuration and the reference window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudstream import features
from fraudstream.settings import Settings
from fraudstream.streaming import sql
from fraudstream.streaming.config import JobConfig, config_from_settings, job_name_for, msf_overrides
from fraudstream.streaming.testkit import Tx, reference_features, seed_example

BASE = datetime(2020, 1, 1, tzinfo=UTC)


def test_seed_example_reference_counts_and_means():
    got = reference_features(seed_example(BASE))
    assert [got[f"seed-{i}"][0] for i in range(1, 5)] == [1, 2, 3, 4]
    assert [got[f"seed-{i}"][1] for i in range(1, 5)] == [50.0, 125.0, 100.0, 200.0]
    assert [got[f"seed-{i}"][2] for i in range(1, 5)] == [50.0, 200.0, 200.0, 500.0]


def test_reference_window_bounds_are_inclusive_at_exactly_ten_minutes():
    t0 = BASE.replace(hour=22)
    rows = [
        Tx("a0", "1" * 16, 10.0, t0),
        Tx("a1", "1" * 16, 20.0, t0 + timedelta(minutes=10)),
        Tx("b0", "2" * 16, 10.0, t0),
        Tx("b1", "2" * 16, 20.0, t0 + timedelta(minutes=10, milliseconds=1)),
    ]
    got = reference_features(rows)
    assert got["a1"][0] == 2
    assert got["b1"][0] == 1


def test_agg_insert_writes_every_streaming_feature_from_the_window_function():
    text = sql.agg_insert_sql()
    assert f"FROM {sql.WINDOWS_VIEW}" in text and "kind = 'agg'" in text
    for name in features.STREAM_FEATURES:
        assert name in sql.agg_sink_ddl(JobConfig(bootstrap_servers="b:1"))
        assert f"AS {name}" in text
    # the mean is the same arithmetic as the shared (Spark) definition: CAST(SUM AS DOUBLE) / COUNT
    assert "CAST(sum_amt_last_10m AS DOUBLE) / num_trans_last_10m" in text


def test_window_function_gets_the_shared_window_length_and_the_allowed_delay():
    view = sql.windows_view_sql(JobConfig(bootstrap_servers="b:1", watermark_delay_ms=250))
    window_ms = int(features.STREAM_WINDOW.total_seconds() * 1000)
    assert f"window_ms => CAST({window_ms} AS BIGINT)" in view
    assert "allowed_delay_ms => CAST(250 AS BIGINT)" in view
    assert "PARTITION BY cc_num" in view and f"on_time => DESCRIPTOR({sql.ARRIVAL_TIME})" in view


def test_heartbeats_are_dropped_before_validation():
    from fraudstream.messages import Heartbeat, encode

    beat = encode(Heartbeat(trans_time=datetime(2026, 1, 1, tzinfo=UTC), clock="c", seq=1)).decode()
    prefix = sql.HEARTBEAT_CONDITION.split("'")[1].rstrip("%")
    assert beat.startswith(prefix)
    assert "WHERE NOT" in sql.parsed_view_sql() and sql.HEARTBEAT_CONDITION in sql.parsed_view_sql()


def test_source_ddl_has_arrival_watermark_group_offsets_and_metadata():
    ddl = sql.source_ddl(JobConfig(bootstrap_servers="kafka:9092", watermark_delay_ms=1500, topic_transactions="tx"))
    assert f"WATERMARK FOR {sql.ARRIVAL_TIME} AS {sql.ARRIVAL_TIME} - INTERVAL '0.001' SECOND" in ddl
    assert "METADATA FROM 'timestamp'" in ddl
    assert "'scan.startup.mode' = 'group-offsets'" in ddl
    assert "'properties.auto.offset.reset' = 'earliest'" in ddl
    assert "METADATA FROM 'offset'" in ddl and "METADATA FROM 'partition'" in ddl
    assert "'topic' = 'tx'" in ddl and "'value.format' = 'raw'" in ddl


def test_sinks_are_at_least_once_and_keyed():
    cfg = JobConfig(bootstrap_servers="b:1", kafka_properties="security.protocol=SSL")
    agg = sql.agg_sink_ddl(cfg)
    assert "'key.fields' = 'cc_num'" in agg and "'sink.delivery-guarantee' = 'at-least-once'" in agg
    assert "'properties.security.protocol' = 'SSL'" in agg
    assert "'key.fields' = 'dl_key'" in sql.dead_letter_sink_ddl(cfg)


def test_quote_escapes_single_quotes():
    assert sql.quote("it's") == "'it''s'"


def test_config_from_settings_and_overrides_round_trip():
    settings = Settings().model_copy(
        update={"kafka_bootstrap_override": "k:9", "topic_transactions": "tx-a", "topic_agg": "agg-a"}
    )
    cfg = config_from_settings(settings)
    assert cfg.bootstrap_servers == "k:9" and cfg.job_name == job_name_for(settings) != "fraudstream-cc-agg"
    args = cfg.as_args()
    pairs = dict(a.split("=", 1) for a in args[1::2])
    rebuilt = JobConfig(bootstrap_servers="x").with_overrides(pairs)
    assert rebuilt == cfg
    assert cfg.with_overrides({"watermark-delay-ms": "250"}).watermark_delay_ms == 250
    with pytest.raises(ValueError, match="unknown job setting"):
        cfg.with_overrides({"nope": "1"})


def test_default_topics_give_the_plain_job_name():
    assert job_name_for(Settings()) == "fraudstream-cc-agg"


def test_msf_properties_are_read_from_the_job_group(tmp_path):
    path = tmp_path / "application_properties.json"
    path.write_text(
        '[{"PropertyGroupId": "Other", "PropertyMap": {"a": "1"}},'
        ' {"PropertyGroupId": "FraudstreamJob", "PropertyMap": {"bootstrap_servers": "b-1.msk:9098"}}]'
    )
    assert msf_overrides(path) == {"bootstrap_servers": "b-1.msk:9098"}
    assert msf_overrides(tmp_path / "missing.json") == {}


def test_kafka_property_pairs_reject_garbage():
    with pytest.raises(ValueError):
        JobConfig(bootstrap_servers="b", kafka_properties="novalue").kafka_property_pairs()


def test_kafka_properties_accept_json_for_values_with_semicolons():
    cfg = JobConfig(bootstrap_servers="b", kafka_properties='{"sasl.jaas.config": "IAMLoginModule required;"}')
    assert cfg.kafka_property_pairs() == [("sasl.jaas.config", "IAMLoginModule required;")]


def test_example_msf_properties_build_a_config():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "flink_jobs" / "application_properties.example.json"
    cfg = JobConfig(bootstrap_servers="x").with_overrides(msf_overrides(example))
    assert cfg.bootstrap_servers.endswith(":9098")
    assert ("sasl.mechanism", "AWS_MSK_IAM") in cfg.kafka_property_pairs()
