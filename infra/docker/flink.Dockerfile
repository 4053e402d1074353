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
FROM python:3.11-slim-bookworm

ARG FLINK_KAFKA_CONNECTOR_VERSION=5.0.0-2.2
ARG MAVEN_CENTRAL=https://repo1.maven.org/maven2

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless curl procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Exact versions with hashes: the build tools first (infra/docker/build-tools.lock.txt), then every
# runtime dependency (infra/docker/runtime.lock.txt, compiled from pyproject.toml) built with them.
COPY infra/docker/build-tools.lock.txt infra/docker/runtime.lock.txt /tmp/locks/
RUN pip install --no-cache-dir --require-hashes -r /tmp/locks/build-tools.lock.txt \
 && pip install --no-cache-dir --require-hashes --no-build-isolation -r /tmp/locks/runtime.lock.txt \
 && rm -rf /tmp/locks
COPY pyproject.toml README.md ./
COPY src ./src
COPY flink_jobs ./flink_jobs
# Editable install of the project alone (its dependencies are all in place from the lock):
# `fraudstream flink submit` runs flink_jobs/cc_agg_job.py from the source tree.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .

# The PyFlink wheel carries a full Flink distribution (bin/, lib/, conf/): add the Kafka SQL connector to lib/.
RUN FLINK_HOME="$(python -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')" \
 && curl -fsSL -o "$FLINK_HOME/lib/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
      "${MAVEN_CENTRAL}/org/apache/flink/flink-sql-connector-kafka/${FLINK_KAFKA_CONNECTOR_VERSION}/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
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
# checkov:skip=CKV_DOCKER_2: one image runs many roles (JobManager, TaskManager, one-shot CLI jobs); docker-compose.yml declares each service's healthcheck.
ENTRYPOINT ["flink-entrypoint.sh"]
CMD ["fraudstream", "--help"]
