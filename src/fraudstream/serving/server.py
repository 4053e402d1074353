"""Run the endpoint under uvicorn; shared by ``fraudstream serve`` and the container entry point."""

from __future__ import annotations

import os
from pathlib import Path

SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")


def default_model_dir(configured: Path | None) -> Path:
    """The explicit directory, else SageMaker's ``/opt/ml/model`` when it holds a model, else settings."""
    if configured is not None:
        return configured
    if (SAGEMAKER_MODEL_DIR / "metadata.json").is_file() or (SAGEMAKER_MODEL_DIR / "latest").exists():
        return SAGEMAKER_MODEL_DIR
    from fraudstream.settings import get_settings

    return get_settings().model_dir


def run_server(
    model_dir: Path | None = None,
    version: str = "latest",
    host: str = "127.0.0.1",
    port: int = 8080,
    nthread: int = 1,
    log_level: str = "warning",
) -> None:
    """Load the model once, then serve it with one uvicorn worker (scale out with processes, not threads)."""
    import uvicorn

    from fraudstream.serving.app import load_app

    directory = default_model_dir(model_dir)
    app = load_app(directory, version, nthread)
    meta = app.state.predictor.metadata
    print(
        f"serving model {meta.version} ({meta.feature_set}, threshold {meta.threshold:.4f}) "
        f"from {directory} on http://{host}:{port}",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_keep_alive=75)


def env_port(default: int) -> int:
    """SageMaker always uses 8080; SAGEMAKER_BIND_TO_PORT overrides when set (multi-container endpoints)."""
    return int(os.environ.get("SAGEMAKER_BIND_TO_PORT", default))
