"""The retraining job: train a candidate on a fresh training set, evaluate it and the current model
on the same test rows with the same report, decide with :mod:`fraudstream.model.promotion`.

It writes ``retrain.json`` (both reports and the decision) and the candidate's ``model.tar.gz`` into
``--out``. On AWS it runs as a SageMaker Processing job in the runtime image (``fraudstream deploy
retrain``) with network isolation: SageMaker copies the training set and the current
``model.tar.gz`` in and ``--out`` back to S3, and the caller rolls the endpoint only if it won. On a
laptop ``--promote-into`` does the same to a local registry (``latest`` moves only on a win)::

    python -m fraudstream.model.retrain --training data/training --current models --out /tmp/retrain \\
        --promote-into models
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from fraudstream.model.promotion import Decision, NotComparableError, PromotionRule, decide

RESULT_FILE = "retrain.json"
CANDIDATE_TARBALL = "model.tar.gz"


def _current_model_dir(current: Path, scratch: Path) -> Path:
    """A registry directory or a single-model directory as given; a ``model.tar.gz`` extracted, also
    when it is the only file of a directory (how SageMaker hands a Processing job an S3 object)."""
    tarballs = sorted(current.glob("*.tar.gz")) if current.is_dir() else []
    if len(tarballs) == 1 and not any(p.is_dir() for p in current.iterdir()):
        current = tarballs[0]
    if current.is_file():
        target = scratch / "current"
        target.mkdir()
        with tarfile.open(current, "r:gz") as tar:
            tar.extractall(target, filter="data")
        return target
    return current


def retrain_config(metadata: dict[str, Any], overrides: dict[str, Any] | None = None) -> Any:
    """The current model's hyper-parameters and feature set (only the data changes), then
    ``overrides`` (a deliberate change of recipe, recorded in the candidate's metadata)."""
    from fraudstream.model.training import TrainingConfig

    known = {f.name for f in fields(TrainingConfig)}
    values = {k: v for k, v in (metadata.get("training_config") or {}).items() if k in known}
    values["feature_set"] = metadata["feature_set"]
    unknown = set(overrides or {}) - known
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)} (known: {sorted(known)})")
    values.update(overrides or {})
    return TrainingConfig(**values)


def run(
    training: Path,
    current: Path,
    out: Path,
    rule: PromotionRule | None = None,
    overrides: dict[str, Any] | None = None,
    promote_into: Path | None = None,
) -> Decision:
    """Train, evaluate both models on the candidate's test period, decide, write ``out``; with
    ``promote_into`` (a local registry) a winning candidate is copied there and becomes ``latest``."""
    from fraudstream.deploy.package import build_model_tarball
    from fraudstream.model import registry
    from fraudstream.model.dataset import (
        CHAIN_POSITION,
        data_hash,
        feature_matrix,
        labels,
        load_training_set,
        split_by_time,
    )
    from fraudstream.model.evaluation import evaluate
    from fraudstream.model.pipeline import _period, split_for, train_one
    from fraudstream.model.training import predict

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        current_dir = registry.resolve_version_dir(_current_model_dir(current, scratch))
        current_meta = json.loads((current_dir / registry.METADATA_FILE).read_text())
        frame = load_training_set(training)
        split = split_for(frame, float((current_meta.get("training_window") or {}).get("gap_days") or 0.0))
        candidates = scratch / "candidates"
        # the candidate's version must be new where it may be promoted: names taken there (and the current
        # model's) are reserved here, so a candidate trained in the same second gets its "-2" suffix
        taken = {current_meta.get("version")}
        if promote_into is not None:
            taken |= {c.name for c in Path(promote_into).iterdir() if c.is_dir() and not c.is_symlink()}
        for name in taken - {None}:
            (candidates / str(name)).mkdir(parents=True, exist_ok=True)
        config = retrain_config(current_meta, overrides)
        meta, candidate_report = train_one(frame, split, config, candidates, data_hash(training))

        test = split_by_time(frame, split).test  # the candidate's test rows, scored by the current model
        p_current = predict(registry.load_booster(current_dir), feature_matrix(test, current_meta["feature_set"]))
        current_report = evaluate(
            labels(test),
            p_current,
            test[CHAIN_POSITION].to_numpy(),
            float(current_meta["threshold"]),
            _period(test),
            test,
        )
        decision = decide(candidate_report, current_report, rule)
        build_model_tarball(out, candidates, meta.version)
        result = {
            "decision": decision.to_dict(),
            "candidate": {"version": meta.version, "feature_set": meta.feature_set, "report": candidate_report},
            "current": {"version": current_meta.get("version"), "report": current_report},
        }
        (out / RESULT_FILE).write_text(json.dumps(result, indent=2, sort_keys=True, default=str))
        if promote_into is not None and decision.promote:
            shutil.copytree(candidates / meta.version, Path(promote_into) / meta.version)
            registry.set_latest(promote_into, meta.version)
    return decision


def _overrides(values: list[str]) -> dict[str, Any]:
    """``key=value`` pairs, values read as JSON when they parse (numbers), else as text."""
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r} is not key=value")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def main(
    training: Path = typer.Option(..., help="Training set (the batch job's Parquet directory)."),
    current: Path = typer.Option(..., help="Current model: a registry, a model directory or a model.tar.gz."),
    out: Path = typer.Option(..., help="Where retrain.json and the candidate's model.tar.gz go."),
    promote_into: Path | None = typer.Option(None, help="Local registry: a winning candidate becomes latest."),
    setting: list[str] = typer.Option([], "--set", help="Change a training setting (repeatable): max_rounds=500."),
    min_pr_auc_gain: float = typer.Option(PromotionRule.min_pr_auc_gain, help="PR-AUC gain needed to promote."),
    max_recall_drop: float = typer.Option(PromotionRule.max_recall_drop, help="Recall drop allowed at threshold."),
    max_precision_drop: float = typer.Option(PromotionRule.max_precision_drop, help="Precision drop allowed."),
) -> None:
    """Retrain, compare with the current model on the same rows, promote only a winner."""
    rule = PromotionRule(min_pr_auc_gain, max_recall_drop, max_precision_drop)
    try:
        decision = run(training, current, out, rule, _overrides(setting), promote_into)
    except (NotComparableError, ValueError) as exc:
        typer.echo(f"retrain: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(decision.to_dict()))


if __name__ == "__main__":
    typer.run(main)
