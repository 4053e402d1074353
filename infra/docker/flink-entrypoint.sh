#!/usr/bin/env bash
# Entry point of the fraudstream runtime image (infra/docker/flink.Dockerfile).
#   jobmanager   Flink JobManager in the foreground (REST on 8081)
#   taskmanager  Flink TaskManager in the foreground, registering with $FLINK_JOBMANAGER_HOST
#   anything else is executed as given (e.g. `fraudstream handlers run fraud-scorer`)
# Flink settings come from environment variables (defaults suit a laptop) and are passed as
# dynamic properties (-D), so the distribution's config.yaml is left untouched.
set -euo pipefail

JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
export JAVA_HOME
FLINK_HOME="${FLINK_HOME:-/opt/flink}"
JM_HOST="${FLINK_JOBMANAGER_HOST:-flink-jobmanager}"

common=(
  -D "jobmanager.rpc.address=${JM_HOST}"
  -D "rest.address=${JM_HOST}"
  -D "rest.bind-address=0.0.0.0"
  -D "state.checkpoints.dir=file://${FRAUDSTREAM_STATE_DIR:-/state}/flink/checkpoints"
  -D "state.savepoints.dir=file://${FRAUDSTREAM_STATE_DIR:-/state}/flink/savepoints"
)

case "${1:-}" in
  jobmanager)
    exec "$FLINK_HOME/bin/jobmanager.sh" start-foreground "${common[@]}" \
      -D "jobmanager.bind-host=0.0.0.0" \
      -D "jobmanager.memory.process.size=${FLINK_JOBMANAGER_MEMORY:-768m}"
    ;;
  taskmanager)
    exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground "${common[@]}" \
      -D "taskmanager.bind-host=0.0.0.0" \
      -D "taskmanager.host=$(hostname -i | awk '{print $1}')" \
      -D "taskmanager.numberOfTaskSlots=${FLINK_TASK_SLOTS:-4}" \
      -D "taskmanager.memory.process.size=${FLINK_TASKMANAGER_MEMORY:-1280m}"
    ;;
  *)
    exec "$@"
    ;;
esac
