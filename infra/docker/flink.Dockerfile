# fraudstream runtime image: Python 3.11 + JRE 17 + fraudstream (PyFlink 2.2.1, PySpark, XGBoost, ...)
# + the Flink Kafka SQL connector in the Flink distribution that ships inside the PyFlink wheel.
#
# One image serves every JVM/Python role of docker-compose.yml:
#   flink-entrypoint.sh jobmanager | taskmanager   -> the Flink session cluster (same dist as `stack up`)
#   fraudstream ...                                -> job submitter, handler runners, bootstrap (Spark + training)
#
# A JDK, not only a JRE: the cc-agg job's Java window function (src/fraudstream/streaming/java/) is
# compiled here against the image's own Flink jars.
#
# Build from the repository root:  docker build -f infra/docker/flink.Dockerfile -t fraudstream/runtime:dev .
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (nothing of it stays in the
# image):  docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt ...
#
# Base image pinned by digest; the tag is python:3.11-slim-bookworm (the same base as ../../Dockerfile).
# PYTHON_IMAGE lets the offline compose test (tests/compose/offline/) substitute a local stand-in.
# checkov:skip=CKV_DOCKER_7: FROM is an ARG (for the offline stand-in) whose default is pinned by digest, which checkov cannot resolve
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
FROM ${PYTHON_IMAGE}

ARG FLINK_KAFKA_CONNECTOR_VERSION=5.0.0-2.2
# sha256 of flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar (the same jar infra/jvm/pom.xml fetches)
ARG FLINK_KAFKA_CONNECTOR_SHA256=5605c691d11a501382c383fecba37a7a552467da5ab7ba904ef5d6f3d62c5616
ARG MAVEN_CENTRAL=https://repo1.maven.org/maven2

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless curl procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Exact versions with hashes: the build tools first (infra/docker/build-tools.lock.txt), then every
# runtime dependency (infra/docker/runtime.lock.txt, compiled from pyproject.toml) built with them.
COPY infra/docker/build-tools.lock.txt infra/docker/runtime.lock.txt /tmp/locks/
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && pip install --no-cache-dir --require-hashes -r /tmp/locks/build-tools.lock.txt \
 && pip install --no-cache-dir --require-hashes --no-build-isolation -r /tmp/locks/runtime.lock.txt \
 && rm -rf /tmp/locks
COPY pyproject.toml README.md ./
COPY src ./src
COPY flink_jobs ./flink_jobs
# Editable install of the project alone (its dependencies are all in place from the lock):
# `fraudstream flink submit` runs flink_jobs/cc_agg_job.py from the source tree.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .

# The PyFlink wheel carries a full Flink distribution (bin/, lib/, conf/): add the Kafka SQL connector to lib/.
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export CURL_CA_BUNDLE=/run/secrets/ca_bundle; fi \
 && FLINK_HOME="$(python -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')" \
 && jar="$FLINK_HOME/lib/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
 && curl -fsSL -o "$jar" \
      "${MAVEN_CENTRAL}/org/apache/flink/flink-sql-connector-kafka/${FLINK_KAFKA_CONNECTOR_VERSION}/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
 && echo "${FLINK_KAFKA_CONNECTOR_SHA256}  $jar" | sha256sum -c - \
 && mkdir -p "$FLINK_HOME/log" \
 && chown -R 1000:1000 "$FLINK_HOME/log" "$FLINK_HOME/conf" \
 && ln -s "$FLINK_HOME" /opt/flink

# The job's Java window function, built once here against this Flink, and shipped with every job.
RUN mkdir -p /opt/fraudstream \
 && python -c "from pathlib import Path; from fraudstream.streaming.udf import build_jar; build_jar(Path('/opt/fraudstream/fraudstream-flink-udf.jar'))"

COPY infra/docker/flink-entrypoint.sh /usr/local/bin/flink-entrypoint.sh
RUN chmod +x /usr/local/bin/flink-entrypoint.sh \
 && useradd --create-home --uid 1000 fraudstream \
 && mkdir -p /state /data /models \
 && chown -R fraudstream /state /data /models
USER fraudstream

ENV FLINK_HOME=/opt/flink \
    FRAUDSTREAM_STATE_DIR=/state \
    FRAUDSTREAM_KAFKA_CONNECTOR_JAR=/opt/flink/lib/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar \
    FRAUDSTREAM_FLINK_UDF_JAR=/opt/fraudstream/fraudstream-flink-udf.jar \
    PYTHONUNBUFFERED=1
# One image, many roles: the check asks the entrypoint, which probes what the role serves (the
# JobManager's REST API, the TaskManager's registration) and passes for one-shot CLI roles.
# docker-compose.yml sets a stricter check per service.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 CMD ["flink-entrypoint.sh", "healthcheck"]
ENTRYPOINT ["flink-entrypoint.sh"]
CMD ["fraudstream", "--help"]
