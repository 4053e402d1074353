# Stand-in for localstack/localstack (Docker Hub is not reachable here): DynamoDB Local from the
# project's Maven-fetched jars (infra/jvm/lib/dynamodb), bound by the project's own launcher
# (infra/jvm/launchers) to $DYNAMODB_HOST:$DYNAMODB_PORT (127.0.0.1:4566 by default). It serves
# only DynamoDB, which is all the stack asks LocalStack for (SERVICES: dynamodb), and has no
# /_localstack/health: compose.offline.yml replaces the healthcheck.
# Build context: a staging directory that compose_test.sh fills with lib/ and launchers/.
FROM local/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --create-home appuser \
 && mkdir -p /var/lib/dynamodb && chown appuser /var/lib/dynamodb
COPY lib /opt/dynamodb/lib
COPY launchers /opt/dynamodb/launchers
USER appuser
ENV DYNAMODB_HOST=127.0.0.1 DYNAMODB_PORT=4566
ENTRYPOINT ["sh", "-c", "exec java -Xmx${DYNAMODB_HEAP:-256m} -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.library.path=/opt/dynamodb/lib -Dsqlite4java.library.path=/opt/dynamodb/lib -cp '/opt/dynamodb/lib/*:/opt/dynamodb/launchers' DynamoDBLocalOnHost \"$DYNAMODB_HOST\" -port \"$DYNAMODB_PORT\" -dbPath /var/lib/dynamodb -sharedDb -disableTelemetry"]
