"""Container entry point: SageMaker starts the image as ``<entrypoint> serve``.

``python -m fraudstream.serving serve`` loads the model from ``/opt/ml/model`` (a registry copy or a
single version directory) and listens on 0.0.0.0:8080. Only the serving dependencies are needed.
The version, address and port come from the settings (``FRAUDSTREAM_MODEL_VERSION``,
``FRAUDSTREAM_SERVE_HOST``, SageMaker's ``SAGEMAKER_BIND_TO_PORT`` over ``FRAUDSTREAM_ENDPOINT_PORT``;
``fraudstream.settings``); request, header and connection limits from ``FRAUDSTREAM_SERVE_*`` variables
(``fraudstream.serving.limits``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fraudstream.serving.server import run_server
from fraudstream.settings import Settings


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="fraudstream-serving", description=__doc__)
    parser.add_argument("command", choices=["serve"], help="SageMaker passes 'serve'")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--model", default=settings.model_version)
    parser.add_argument("--host", default=settings.serve_host or "0.0.0.0")
    parser.add_argument("--port", type=int, default=settings.serve_port)
    args = parser.parse_args(argv)
    run_server(args.model_dir, args.model, args.host, args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
