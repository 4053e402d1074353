# Stand-in for apache/kafka:4.1.1 (Docker Hub is not reachable here): the project's own
# Maven-fetched Kafka 4.1.1 jars (infra/jvm/lib/kafka) on JRE 17, with an entrypoint that turns
# KAFKA_* variables into server.properties, formats the storage once and starts the broker.
# It has no /opt/kafka/bin/*.sh scripts: compose.offline.yml replaces the healthcheck.
# Build context: a staging directory that compose_test.sh fills with lib/ and the entrypoint.
FROM local/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --create-home appuser \
 && mkdir -p /var/lib/kafka/data /opt/kafka/config \
 && chown -R appuser /var/lib/kafka /opt/kafka/config
COPY lib /opt/kafka/libs
COPY kafka-entrypoint.sh /usr/local/bin/kafka-entrypoint.sh
USER appuser
ENTRYPOINT ["bash", "/usr/local/bin/kafka-entrypoint.sh"]
