"""Managed Flink runtime properties -> ``FRAUDSTREAM_*`` environment, for the PyFlink job.

Managed Service for Apache Flink cannot set environment variables; it passes the stack's
``FraudstreamSettings`` property group in ``/etc/flink/application_properties.json``. The job
calls :func:`apply_runtime_properties` first thing, then reads ``Settings()`` as everywhere else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PROPERTIES_FILE = Path("/etc/flink/application_properties.json")
GROUP_ID = "FraudstreamSettings"


def apply_runtime_properties(path: str | Path = PROPERTIES_FILE, environ: dict | None = None) -> dict[str, str]:
    """Copy the group's ``FRAUDSTREAM_*`` properties into the environment (absent file: no-op)."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    if not path.is_file():
        return {}
    applied: dict[str, str] = {}
    for group in json.loads(path.read_text()):
        if group.get("PropertyGroupId") != GROUP_ID:
            continue
        for key, value in (group.get("PropertyMap") or {}).items():
            if key.startswith("FRAUDSTREAM_"):
                environ[key] = str(value)
                applied[key] = str(value)
    if applied:
        from fraudstream.settings import get_settings

        get_settings.cache_clear()  # settings read before this call would miss the properties
    return applied
