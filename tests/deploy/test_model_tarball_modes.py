"""The endpoint image serves as a non-root user (uid 1000, Dockerfile): SageMaker extracts
model.tar.gz into /opt/ml/model keeping the archive's modes, so a model file that is 0600 on the
packaging machine must still be readable there."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from fraudstream.deploy.package import build_model_tarball


def test_model_tarball_forces_0644_whatever_the_local_modes(tmp_path: Path, tiny_model_dir: Path) -> None:
    private = tmp_path / "models"
    shutil.copytree(tiny_model_dir, private)
    for file in private.rglob("*"):
        if file.is_file():
            file.chmod(0o600)
    out = tmp_path / "out"
    out.mkdir()
    art, _ = build_model_tarball(out, private)
    with tarfile.open(art.path) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert "model.ubj" in modes
    assert set(modes.values()) == {0o644}, {name: oct(mode) for name, mode in modes.items()}
