"""JSON Schemas of the topic records, exported to ``schemas/`` so non-Python readers share the contract.

The files are generated from :mod:`fraudstream.messages`; a test fails when they drift, and
``fraudstream schemas`` rewrites them. Nothing reads them at run time (the models are the contract), so
the package does not carry them: they are written into the checkout (``Settings.schema_dir``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fraudstream.messages import RECORD_MODELS
from fraudstream.settings import Settings, get_settings

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def default_schema_dir(settings: Settings | None = None) -> Path:
    """``FRAUDSTREAM_SCHEMA_DIR``, else ``schemas/`` of the checkout (``Settings.project_dir``)."""
    settings = settings or get_settings()
    return settings.schema_dir or settings.project_dir / "schemas"


def json_schemas() -> dict[str, dict[str, Any]]:
    """Schema of every record, by record name (``transaction``, ``prediction``, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in RECORD_MODELS.items():
        schema = model.model_json_schema(mode="validation")
        out[name] = {"$schema": SCHEMA_DIALECT, "$id": f"fraudstream/{name}.schema.json", **schema}
    return out


def render_schema(schema: dict[str, Any]) -> str:
    """Stable text of one schema (sorted keys, trailing newline) so that files diff cleanly."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / f"{name}.schema.json"


def export_schemas(out_dir: Path | None = None) -> list[Path]:
    """Write one ``<name>.schema.json`` per record into ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir or default_schema_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = schema_path(out_dir, name)
        path.write_text(render_schema(schema))
        written.append(path)
    return written


def stale_schemas(out_dir: Path | None = None) -> list[str]:
    """Names whose file in ``out_dir`` is missing or differs from the models (empty = in sync)."""
    out_dir = Path(out_dir or default_schema_dir())
    stale = []
    for name, schema in json_schemas().items():
        path = schema_path(out_dir, name)
        if not path.exists() or path.read_text() != render_schema(schema):
            stale.append(name)
    return stale
