"""The exported JSON Schemas match the models, and encoded records validate against them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from fraudstream.messages import RECORD_MODELS, Transaction, encode
from fraudstream.schemas import default_schema_dir, export_schemas, json_schemas, stale_schemas
from fraudstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_repository_schemas_are_in_sync_with_models() -> None:
    assert default_schema_dir(Settings(project_dir=ROOT)) == ROOT / "schemas"
    stale = stale_schemas(ROOT / "schemas")
    assert stale == [], f"schemas/ is stale for {stale}: run `fraudstream schemas`"


def test_export_writes_one_file_per_record(tmp_path: Path) -> None:
    paths = export_schemas(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{name}.schema.json" for name in RECORD_MODELS)
    assert stale_schemas(tmp_path) == []
    paths[0].write_text("{}\n")
    assert stale_schemas(tmp_path) == [paths[0].name.removesuffix(".schema.json")]


def test_encoded_transaction_validates_and_bad_one_does_not() -> None:
    schema = json_schemas()["transaction"]
    tx = Transaction(tid="t", cc_num="4111111111111111", amount=1.0, trans_time=datetime(2020, 1, 1, tzinfo=UTC))
    jsonschema.validate(json.loads(encode(tx)), schema)
    bad = {**json.loads(encode(tx)), "cc_num": "123"}
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)
