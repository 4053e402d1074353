#!/usr/bin/env bash
# Entry point of the Kafka stand-in (kafka.Dockerfile): KAFKA_FOO_BAR=v becomes foo.bar=v in
# server.properties, as in the upstream image; KAFKA_HEAP_OPTS and KAFKA_OPTS go to the JVM.
set -euo pipefail
CONFIG=/opt/kafka/config/server.properties
: > "$CONFIG"
while IFS='=' read -r name value; do
  case "$name" in KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS) continue ;; esac
  key="$(echo "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | tr '_' '.')"
  echo "$key=$value" >> "$CONFIG"
done < <(env | grep '^KAFKA_' | sort)
grep -q '^log.dirs=' "$CONFIG" || echo "log.dirs=/var/lib/kafka/data" >> "$CONFIG"
JVM=(java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_OPTS:-} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -cp "/opt/kafka/libs/*")
if [[ ! -f /var/lib/kafka/data/meta.properties ]]; then
  "${JVM[@]}" -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format --config "$CONFIG" \
    "--cluster-id=${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" --ignore-formatted
fi
exec "${JVM[@]}" kafka.Kafka "$CONFIG"
