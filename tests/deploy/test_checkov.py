"""checkov (CloudFormation + Dockerfile frameworks) passes on every template and image, with the
pinned version of the dev dependencies; every remaining finding is suppressed in the file itself,
next to the resource, with a one-line reason (issue 19, "Proof").

checkov runs offline (``--skip-download``: no Prisma Cloud guidelines or custom policies) and in
one process for all files, ~20 s on the 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.deploy.deployer import templates_dir

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = Path(sys.executable).with_name("checkov")
TEMPLATES = sorted(templates_dir().glob("*.yaml"))
DOCKERFILES = [
    ROOT / "Dockerfile",
    ROOT / "infra" / "docker" / "flink.Dockerfile",
    ROOT / "infra" / "emr" / "pyspark-env.Dockerfile",
]


def _pinned_version() -> str:
    match = re.search(r'"checkov==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert match, "checkov must be pinned (==) in the dev extra of pyproject.toml"
    return match.group(1)


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    """checkov's JSON report per framework."""
    if not CHECKOV.is_file():
        pytest.fail(f"checkov is not installed next to {sys.executable}: pip install -e '.[dev]' (it is pinned there)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_", "CKV_"))}
    env["LOG_LEVEL"] = "ERROR"
    files = [arg for path in [*TEMPLATES, *DOCKERFILES] for arg in ("-f", str(path))]
    cmd = [str(CHECKOV), *files, "--framework", "cloudformation", "dockerfile", "--skip-download", "-o", "json"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1 = failed checks, reported below
    data = json.loads(result.stdout)
    return {report["check_type"]: report for report in (data if isinstance(data, list) else [data])}


def test_checkov_is_the_pinned_version():
    result = subprocess.run([str(CHECKOV), "--version"], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == _pinned_version()


def test_checkov_scanned_every_file(reports):
    assert set(reports) == {"cloudformation", "dockerfile"}
    scanned = {
        Path(check["file_abs_path"]).resolve()
        for report in reports.values()
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for check in report["results"][kind]
    }
    assert {p.resolve() for p in [*TEMPLATES, *DOCKERFILES]} <= scanned
    assert reports["cloudformation"]["summary"]["passed"] >= 150  # a scan that silently checks nothing fails


def test_checkov_finds_nothing(reports):
    failed = [
        f"{c['check_id']} {c['resource']} ({Path(c['file_path']).name}): {c['check_name']}"
        for report in reports.values()
        for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "fix them, or suppress next to the resource with a one-line reason:\n" + "\n".join(failed)


def test_every_suppression_has_a_one_line_reason(reports):
    skipped = [c for report in reports.values() for c in report["results"]["skipped_checks"]]
    assert skipped, "expected the documented suppressions (network-interface actions on '*', ...)"
    for check in skipped:
        reason = (check.get("suppress_comment") or check["check_result"].get("suppress_comment") or "").strip()
        where = f"{check['check_id']} on {check['resource']}"
        assert len(reason) >= 20 and "\n" not in reason, f"{where}: reason {reason!r}"
