# SageMaker-compatible inference image for the fraud model (bring-your-own-container contract):
#   docker build -t fraudstream-endpoint .
#   docker run -p 8080:8080 -v "$PWD/models:/opt/ml/model:ro" fraudstream-endpoint serve
# SageMaker starts the container with the argument `serve`, extracts model.tar.gz into /opt/ml/model
# (a registry copy with `latest`, or one version directory with metadata.json + model.ubj) and
# probes GET /ping and POST /invocations on port 8080. Only the serving dependencies are installed, from a
# hash-checked lock. The endpoint runs with network isolation: nothing here may need the network at run time.
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (nothing of it stays in the
# image):  docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt ...
#
# Base image pinned by digest; the tag is python:3.11-slim-bookworm. PYTHON_IMAGE lets the offline
# compose test (tests/compose/offline/) substitute a local stand-in.
# checkov:skip=CKV_DOCKER_7: FROM is an ARG (for the offline stand-in) whose default is pinned by digest, which checkov cannot resolve
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRAUDSTREAM_SERVE_HOST=0.0.0.0 \
    FRAUDSTREAM_MODEL_DIR=/opt/ml/model

# xgboost's CPU wheel needs the OpenMP runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/program
# Exact versions with hashes (infra/docker/serving.lock.txt, from infra/docker/serving.in), wheels only.
COPY infra/docker/serving.lock.txt /tmp/serving.lock.txt
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: -r /tmp/serving.lock.txt \
    && rm /tmp/serving.lock.txt
# The package runs from source (no build step, so no unpinned build tools in the image).
COPY src ./src
ENV PYTHONPATH=/opt/program/src
RUN useradd --system --uid 1000 --no-create-home model \
    && mkdir -p /opt/ml/model

USER model
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/ping').status != 200)"
ENTRYPOINT ["python", "-m", "fraudstream.serving"]
CMD ["serve"]
