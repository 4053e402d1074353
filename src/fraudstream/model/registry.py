"""File-system model registry: ``models/<version>/`` + ``models/latest`` pointing at the one to serve.

A version directory holds ``model.ubj`` (XGBoost UBJSON booster), ``metadata.json`` (this module's
``ModelMetadata``), ``report.json`` and ``pr_curve.png``. Directories are written under a temporary
name and renamed, and ``latest`` is replaced atomically, so a reader never sees half a model.
A directory that itself holds ``metadata.json`` (SageMaker's ``/opt/ml/model``) is one model.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import xgboost

LATEST = "latest"
BOOSTER_FILE = "model.ubj"
METADATA_FILE = "metadata.json"
REPORT_FILE = "report.json"
PR_CURVE_FILE = "pr_curve.png"


class ModelMetadata(BaseModel):
    """What a consumer needs to use a model correctly: the input order, the threshold and its origin."""

    model_config = ConfigDict(extra="allow")

    version: str
    feature_set: str
    feature_names: list[str]
    threshold: float
    threshold_rule: str
    training_window: dict[str, Any]
    data_hash: str
    metrics: dict[str, Any] = Field(default_factory=dict)
    library_versions: dict[str, str] = Field(default_factory=dict)
    created_at: str
    booster_file: str = BOOSTER_FILE


class ModelNotFoundError(FileNotFoundError):
    """No such model version (or no model at all) in the registry."""


def library_versions() -> dict[str, str]:
    import numpy
    import xgboost

    from fraudstream import __version__

    return {
        "python": platform.python_version(),
        "xgboost": xgboost.__version__,
        "numpy": numpy.__version__,
        "fraudstream": __version__,
    }


def _new_version(model_dir: Path, feature_set: str, now: datetime) -> str:
    base = f"{now:%Y%m%dT%H%M%SZ}-{feature_set}"
    version, n = base, 1
    while (model_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def save_model(
    model_dir: str | Path,
    booster: xgboost.Booster,
    *,
    feature_set: str,
    feature_names: list[str],
    threshold: float,
    threshold_rule: str,
    training_window: dict[str, Any],
    data_hash: str,
    metrics: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    pr_curve: str | Path | None = None,
    extra: dict[str, Any] | None = None,
    make_latest: bool = True,
) -> ModelMetadata:
    """Write a new version directory and (by default) point ``latest`` at it; returns its metadata."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    version = _new_version(model_dir, feature_set, now)
    meta = ModelMetadata(
        version=version,
        feature_set=feature_set,
        feature_names=list(feature_names),
        threshold=float(threshold),
        threshold_rule=threshold_rule,
        training_window=training_window,
        data_hash=data_hash,
        metrics=metrics or {},
        library_versions=library_versions(),
        created_at=now.isoformat().replace("+00:00", "Z"),
        **(extra or {}),
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=model_dir))
    try:
        booster.save_model(str(staging / BOOSTER_FILE))
        (staging / METADATA_FILE).write_text(meta.model_dump_json(indent=2) + "\n")
        if report is not None:
            (staging / REPORT_FILE).write_text(json.dumps(report, indent=2, default=float) + "\n")
        if pr_curve is not None:
            shutil.copyfile(pr_curve, staging / PR_CURVE_FILE)
        staging.chmod(0o755)
        staging.rename(model_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if make_latest:
        set_latest(model_dir, version)
    return meta


def set_latest(model_dir: str | Path, version: str) -> None:
    """Point ``model_dir/latest`` at ``version`` (relative symlink, replaced atomically)."""
    model_dir = Path(model_dir)
    if not (model_dir / version / METADATA_FILE).is_file():
        raise ModelNotFoundError(f"no model version {version!r} in {model_dir}")
    tmp = model_dir / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(version, target_is_directory=True)
    os.replace(tmp, model_dir / LATEST)


def resolve_version_dir(model_dir: str | Path, version: str = LATEST) -> Path:
    """The directory of ``version`` (``latest`` follows the pointer); a single-model dir is itself."""
    model_dir = Path(model_dir)
    if (model_dir / METADATA_FILE).is_file():
        return model_dir
    target = model_dir / (version or LATEST)
    if version in (None, "", LATEST) and not target.exists():
        versions = list_versions(model_dir)
        if not versions:
            raise ModelNotFoundError(f"no model in {model_dir}; train one with `fraudstream train`")
        target = model_dir / versions[-1].version
    if not (target / METADATA_FILE).is_file():
        known = ", ".join(m.version for m in list_versions(model_dir)) or "none"
        raise ModelNotFoundError(f"no model version {version!r} in {model_dir} (known: {known})")
    return target.resolve()


def load_metadata(model_dir: str | Path, version: str = LATEST) -> ModelMetadata:
    """Metadata of a version (default: the one ``latest`` points at)."""
    path = resolve_version_dir(model_dir, version) / METADATA_FILE
    return ModelMetadata.model_validate_json(path.read_text())


def load_report(model_dir: str | Path, version: str = LATEST) -> dict[str, Any] | None:
    path = resolve_version_dir(model_dir, version) / REPORT_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def load_booster(model_dir: str | Path, version: str = LATEST) -> xgboost.Booster:
    """The booster of a version, ready for ``inplace_predict``."""
    import xgboost

    version_dir = resolve_version_dir(model_dir, version)
    meta = ModelMetadata.model_validate_json((version_dir / METADATA_FILE).read_text())
    booster = xgboost.Booster(model_file=str(version_dir / meta.booster_file))
    booster.feature_names = list(meta.feature_names)
    return booster


def list_versions(model_dir: str | Path) -> list[ModelMetadata]:
    """Every version in the registry, oldest first."""
    model_dir = Path(model_dir)
    if (model_dir / METADATA_FILE).is_file():
        return [ModelMetadata.model_validate_json((model_dir / METADATA_FILE).read_text())]
    if not model_dir.is_dir():
        return []
    metas = []
    for child in model_dir.iterdir():
        if child.name == LATEST or child.name.startswith(".") or child.is_symlink():
            continue
        meta_file = child / METADATA_FILE
        if meta_file.is_file():
            metas.append(ModelMetadata.model_validate_json(meta_file.read_text()))
    return sorted(metas, key=lambda m: (m.created_at, m.version))


def latest_version(model_dir: str | Path) -> str | None:
    """The version ``latest`` resolves to, or None for an empty registry."""
    try:
        return load_metadata(model_dir, LATEST).version
    except ModelNotFoundError:
        return None
