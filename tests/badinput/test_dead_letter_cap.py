"""Every stage caps a dead letter's payload alike, so a dead letter of a record near the topic's limit fits."""

from __future__ import annotations

from fraudstream.dead_letter import MAX_PAYLOAD_BYTES
from fraudstream.settings import Settings
from fraudstream.streaming import sql
from fraudstream.streaming.submit import job_config


def test_the_job_caps_dead_letter_payloads_as_the_python_stages_do() -> None:
    assert sql.DEAD_LETTER_PAYLOAD_CHARS == MAX_PAYLOAD_BYTES
    cfg = job_config(Settings())
    for statement in (sql.invalid_insert_sql(cfg), sql.late_insert_sql(cfg)):
        assert f"SUBSTRING(payload FROM 1 FOR {MAX_PAYLOAD_BYTES})" in statement
        assert "payload truncated to its first" in statement
