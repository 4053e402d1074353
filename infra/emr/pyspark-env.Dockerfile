# The nightly job's PySpark environment for EMR Serverless (spark.archives=...#environment):
# CPython 3.11 (the package's requires-python) with the project and its locked dependencies, built on
# Amazon Linux 2023 like the EMR Serverless workers, and packed with venv-pack; the interpreter travels in
# the archive. Optional: the default release (emr-spark-8.0.0) ships Python 3.11, so `deploy package`
# builds a site-packages archive without Docker (docs/aws-batch.md); this venv is for a release whose
# Python is not 3.11 (emr-7.x ships 3.9) or for interpreter-level control:
#   docker build -f infra/emr/pyspark-env.Dockerfile --build-arg PYTHON_SHA256=<from python.org> \
#     --output build/deploy/pyspark-env .
#   fraudstream deploy up ... --pyspark-env build/deploy/pyspark-env/pyspark_env.tar.gz
# Not built on the project's CI machine (no Docker engine there); `deploy package` checks the layout.
# checkov:skip=CKV_DOCKER_2: a build stage that exports one file; no container ever runs from it
# checkov:skip=CKV_DOCKER_3: a build stage that exports one file; no container ever runs from it
# The base is named by tag: this file has not been built here (no Docker engine on the project's
# machines), so no digest was observed. Pin it when you first build:
#   docker buildx imagetools inspect public.ecr.aws/amazonlinux/amazonlinux:2023  ->  --build-arg BASE_IMAGE=...@sha256:<digest>
# checkov:skip=CKV_DOCKER_7: the tag default is unpinned until a build observes a digest (see above)
ARG BASE_IMAGE=public.ecr.aws/amazonlinux/amazonlinux:2023
FROM ${BASE_IMAGE} AS build

ARG PYTHON_VERSION=3.11.11
# SHA-256 of Python-${PYTHON_VERSION}.tar.xz from python.org's release page (required: the build
# refuses an unchecked interpreter; it is not written here because no build here has observed it).
ARG PYTHON_SHA256
RUN dnf install -y gcc make tar gzip xz openssl-devel bzip2-devel libffi-devel zlib-devel sqlite-devel \
    && dnf clean all
RUN test -n "$PYTHON_SHA256" || { echo "pass --build-arg PYTHON_SHA256=<python.org checksum>" >&2; exit 1; } \
    && curl -fsSLo /tmp/python.tar.xz "https://www.python.org/ftp/python/${PYTHON_VERSION}/Python-${PYTHON_VERSION}.tar.xz" \
    && echo "${PYTHON_SHA256}  /tmp/python.tar.xz" | sha256sum -c - \
    && tar -xJf /tmp/python.tar.xz -C /tmp \
    && cd /tmp/Python-${PYTHON_VERSION} \
    && ./configure --prefix=/usr/local --enable-optimizations \
    && make -j"$(nproc)" \
    && make altinstall

ENV VIRTUAL_ENV=/opt/venv
RUN python3.11 -m venv --copies $VIRTUAL_ENV \
    && cp -r /usr/local/lib/python3.11/* $VIRTUAL_ENV/lib/python3.11/
ENV PATH="$VIRTUAL_ENV/bin:$PATH"

WORKDIR /src
COPY infra/docker/build-tools.lock.txt infra/docker/runtime.lock.txt /tmp/locks/
RUN pip install --no-cache-dir --require-hashes -r /tmp/locks/build-tools.lock.txt \
    && pip install --no-cache-dir --require-hashes --no-build-isolation -r /tmp/locks/runtime.lock.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip install --no-cache-dir "venv-pack==0.2.0" \
    && mkdir /output \
    && venv-pack -f -o /output/pyspark_env.tar.gz

FROM scratch AS export
COPY --from=build /output/pyspark_env.tar.gz /
