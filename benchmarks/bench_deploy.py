"""Benchmark of ``fraudstream deploy``: packaging time and artifact sizes, and a full deploy round trip
(bootstrap + create, no-change update, parameter update, status, delete) against moto in server mode.

moto runs as its own process on a free port (tests/deploy/moto_server.py), so nothing touches AWS.
Writes benchmarks/results/deploy.json and deploy.png (phase timings).

    .venv/bin/python benchmarks/bench_deploy.py [--full] [--out FILE.json]   # --full: also bundle the Linux wheels
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import ROOT, Machine, figure, parser, write_report


class CollectingUi:
    """Records what the workflow reports instead of rendering it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def step(self, message: str) -> None:
        self.events.append(("step", message))

    def warn(self, message: str) -> None:
        self.events.append(("warn", message))

    def listener(self, kind: str, value: Any) -> None:
        self.events.append((kind, value))


def tiny_model(root: Path) -> Path:
    version = root / "v1"
    version.mkdir(parents=True)
    meta = {
        "version": "v1",
        "feature_set": "anchor",
        "feature_names": ["amount"],
        "threshold": 0.8,
        "threshold_rule": "bench",
        "training_window": {},
        "data_hash": "0",
        "created_at": "2020-01-01T00:00:00Z",
    }
    (version / "metadata.json").write_text(json.dumps(meta))
    (version / "model.ubj").write_bytes(os.urandom(200_000))
    (root / "latest").symlink_to("v1", target_is_directory=True)
    return root


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "deploy" / "moto_server.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("moto did not start")


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def plot(phases: dict[str, float], out: Path) -> None:
    with figure(out, figsize=(7, 3.5)) as (_, ax):
        bars = ax.barh(list(phases), list(phases.values()), color="#55a868")
        ax.bar_label(bars, fmt="%.1fs", padding=3)
        ax.set_xlabel("seconds")
        ax.set_title("fraudstream deploy against moto (KafkaMode=none)")
        ax.invert_yaxis()


def main() -> None:
    cli = parser(__doc__, "deploy.json")
    cli.add_argument("--full", action="store_true", help="also package with Linux wheels (needs PyPI)")
    args = cli.parse_args()

    from fraudstream.deploy.cfn import describe_stack
    from fraudstream.deploy.deployer import UpRequest, run_down, run_status, run_up
    from fraudstream.deploy.package import package_all
    from fraudstream.deploy.target import AwsTarget

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    machine = Machine()
    result: dict[str, Any] = {"benchmark": "deploy"}
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        work = Path(tmp)
        models = tiny_model(work / "models")
        manifest, seconds = timed(package_all, work / "pkg", with_dependencies=False, model_dir=models)
        result["package_code_only_s"] = round(seconds, 2)
        result["artifact_mb_code_only"] = {k: round(a.size / 1e6, 2) for k, a in manifest.artifacts.items()}
        if args.full:
            full, seconds = timed(package_all, work / "full", with_dependencies=True, model_dir=models)
            result["package_full_cold_s"] = round(seconds, 2)
            result["artifact_mb_full"] = {k: round(a.size / 1e6, 2) for k, a in full.artifacts.items()}
            _, seconds = timed(package_all, work / "full", with_dependencies=True, model_dir=models)
            result["package_full_cached_s"] = round(seconds, 2)

        proc, url = start_moto()
        try:
            target = AwsTarget("us-east-1", url)
            ui = CollectingUi()
            base = dict(stack_name="bench", bucket="bench-artifacts", target=target, out_dir=work / "pkg",
                        package=False, model_dir=models, poll_seconds=0.2)  # fmt: skip
            phases: dict[str, float] = {}
            created, phases["create (bootstrap + main)"] = timed(
                run_up, UpRequest(**base, params={"KafkaMode": "none"}), ui
            )
            unchanged, phases["update, no changes"] = timed(run_up, UpRequest(**base), ui)
            changed, phases["update, LambdaMemoryMB=1024"] = timed(
                run_up, UpRequest(**base, params={"LambdaMemoryMB": "1024"}), ui
            )
            _, phases["status"] = timed(run_status, "bench", target)
            resources = len(
                target.client("cloudformation").list_stack_resources(StackName="bench")["StackResourceSummaries"]
            )
            _, phases["down --all"] = timed(run_down, "bench", target, ui, True, 0.2)
            assert describe_stack(target.client("cloudformation"), "bench") is None
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result.update(
        phases_s={k: round(v, 2) for k, v in phases.items()},
        outputs=len(created.outputs),
        stack_resources_listed=resources,
        changes_in_create=created.changes,
        no_change_update_detected=not unchanged.changed,
        parameter_update_changed=changed.changed,
        machine=machine.block(),
    )
    write_report(args.out, result, plot=lambda png: plot(result["phases_s"], png))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
