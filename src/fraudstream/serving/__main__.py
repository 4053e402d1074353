"""Container entry point: SageMaker starts the image as ``<entrypoint> serve``.

``python -m fraudstream.serving serve`` loads the model from ``/opt/ml/model`` (a registry copy or a
single version directory) and listens on 0.0.0.0:8080. Only the serving dependencies are needed.
Request, header and connection limits come from ``FRAUDSTREAM_SERVE_*`` variables
(``fraudstream.serving.limits``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fraudstream.serving.server import env_port, run_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fraudstream-serving", description=__doc__)
    parser.add_argument("command", choices=["serve"], help="SageMaker passes 'serve'")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--model", default=os.environ.get("FRAUDSTREAM_MODEL_VERSION", "latest"))
    parser.add_argument("--host", default=os.environ.get("FRAUDSTREAM_SERVE_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=env_port(int(os.environ.get("FRAUDSTREAM_ENDPOINT_PORT", 8080))))
    args = parser.parse_args(argv)
    run_server(args.model_dir, args.model, args.host, args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
