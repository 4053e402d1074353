"""Fixtures of the monitor tests: the headless Chromium the dashboard tests load the page in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary, installed from apt by the project's script when missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        result = subprocess.run([str(ROOT / "scripts" / "install_chromium.sh")], capture_output=True, text=True)
        found = shutil.which("chromium")
        if not found:
            pytest.skip(f"apt could not provide chromium: {result.stderr.strip()[-300:]}")
    return found
