# fraudstream runtime image: Python 3.11 + JRE 17 + fraudstream (PyFlink 2.2.1, PySpark, XGBoost, ...)
# + the Flink Kafka SQL connector in the Flink distribution that ships inside the PyFlink wheel.
#
# One image serves every JVM/Python role of docker-compose.yml:
#   flink-entrypoint.sh jobmanager | taskmanager   -> the Flink session cluster (same dist as `stack up`)
#   fraudstream ...                                -> job submitter, handler runners, bootstrap (Spark + training)
#
# Build from the repository root:  docker build -f infra/docker/flink.Dockerfile -t fraudstream/runtime:dev .
FROM python:3.11-slim-bookworm

ARG FLINK_KAFKA_CONNECTOR_VERSION=5.0.0-2.2
ARG MAVEN_CENTRAL=https://repo1.maven.org/maven2

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY flink_jobs ./flink_jobs
# Editable install: `fraudstream flink submit` runs flink_jobs/cc_agg_job.py from the source tree.
RUN pip install --no-cache-dir -e .

# The PyFlink wheel carries a full Flink distribution (bin/, lib/, conf/): add the Kafka SQL connector to lib/.
RUN FLINK_HOME="$(python -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')" \
 && curl -fsSL -o "$FLINK_HOME/lib/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
      "${MAVEN_CENTRAL}/org/apache/flink/flink-sql-connector-kafka/${FLINK_KAFKA_CONNECTOR_VERSION}/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar" \
 && mkdir -p "$FLINK_HOME/log" \
 && chown -R 1000:1000 "$FLINK_HOME/log" "$FLINK_HOME/conf" \
 && ln -s "$FLINK_HOME" /opt/flink

COPY infra/docker/flink-entrypoint.sh /usr/local/bin/flink-entrypoint.sh
RUN chmod +x /usr/local/bin/flink-entrypoint.sh \
 && useradd --create-home --uid 1000 fraudstream \
 && mkdir -p /state /data /models \
 && chown -R fraudstream /state /data /models
USER fraudstream

ENV FLINK_HOME=/opt/flink \
    FRAUDSTREAM_STATE_DIR=/state \
    FRAUDSTREAM_KAFKA_CONNECTOR_JAR=/opt/flink/lib/flink-sql-connector-kafka-${FLINK_KAFKA_CONNECTOR_VERSION}.jar \
    PYTHONUNBUFFERED=1
ENTRYPOINT ["flink-entrypoint.sh"]
CMD ["fraudstream", "--help"]
