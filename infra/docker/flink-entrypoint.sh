#!/usr/bin/env bash
# Entry point of the fraudstream runtime image (infra/docker/flink.Dockerfile).
#   jobmanager   Flink JobManager in the foreground (REST on 8081)
#   taskmanager  Flink TaskManager in the foreground, registering with $FLINK_JOBMANAGER_HOST
#   healthcheck  the image's HEALTHCHECK: probes whichever Flink role runs here (none: healthy)
#   anything else is executed as given (e.g. `fraudstream handlers run fraud-scorer`)
# Flink settings come from environment variables (defaults suit a laptop) and are passed as
# dynamic properties (-D), so the distribution's config.yaml is left untouched.
#   FLINK_BIND_ADDRESS     where the JobManager/TaskManager/REST servers listen (default 0.0.0.0;
#                          127.0.0.1 with host networking, so nothing leaves loopback)
#   FLINK_REST_PORT        REST port (8081); FLINK_RPC_PORT JobManager RPC port (6123)
#   FLINK_TASKMANAGER_HOST address the TaskManager advertises (default: the container's IP)
set -euo pipefail

JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
export JAVA_HOME
FLINK_HOME="${FLINK_HOME:-/opt/flink}"
JM_HOST="${FLINK_JOBMANAGER_HOST:-flink-jobmanager}"
BIND="${FLINK_BIND_ADDRESS:-0.0.0.0}"
REST_PORT="${FLINK_REST_PORT:-8081}"

common=(
  -D "jobmanager.rpc.address=${JM_HOST}"
  -D "rest.address=${JM_HOST}"
  -D "rest.bind-address=${BIND}"
  -D "rest.port=${REST_PORT}"
  -D "jobmanager.rpc.port=${FLINK_RPC_PORT:-6123}"
  -D "state.checkpoints.dir=file://${FRAUDSTREAM_STATE_DIR:-/state}/flink/checkpoints"
  -D "state.savepoints.dir=file://${FRAUDSTREAM_STATE_DIR:-/state}/flink/savepoints"
  # fail over within seconds of a lost TaskManager (see fraudstream.stack.flink.cluster_config)
  -D "heartbeat.interval=2000"
  -D "heartbeat.timeout=15000"
)

case "${1:-}" in
  jobmanager)
    exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground "${common[@]}" \
      -D "jobmanager.bind-host=${BIND}" \
      -D "jobmanager.memory.process.size=${FLINK_JOBMANAGER_MEMORY:-768m}"
    ;;
  taskmanager)
    exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground "${common[@]}" \
      -D "taskmanager.bind-host=${BIND}" \
      -D "taskmanager.host=${FLINK_TASKMANAGER_HOST:-$(hostname -i | awk '{print $1}')}" \
      -D "taskmanager.numberOfTaskSlots=${FLINK_TASK_SLOTS:-4}" \
      -D "taskmanager.memory.process.size=${FLINK_TASKMANAGER_MEMORY:-1280m}"
    ;;
  healthcheck)
    if pgrep -f StandaloneSessionClusterEntrypoint >/dev/null; then
      exec curl -fs -o /dev/null "http://127.0.0.1:${REST_PORT}/overview"
    elif pgrep -f TaskManagerRunner >/dev/null; then
      curl -fs "http://${JM_HOST}:${REST_PORT}/taskmanagers" | grep -q '"id"'
    fi
    ;;
  *)
    exec "$@"
    ;;
esac
