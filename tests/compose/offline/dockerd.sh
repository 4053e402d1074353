#!/usr/bin/env bash
# Starts a Docker engine for the offline compose test, or reuses one that answers already.
#   dockerd.sh start   prints nothing when reused; writes the pid of the engine it started to $PIDFILE
#   dockerd.sh stop    stops only the engine whose pid this script wrote (never one by name)
# The engine leaves host networking alone: no iptables, no forwarding, no bridge; every container
# and build then runs with host networking (compose.offline.yml).
set -euo pipefail

PIDFILE="${DOCKERD_PIDFILE:-/tmp/fraudstream-compose-test/dockerd.pid}"
LOG="${DOCKERD_LOG:-/tmp/fraudstream-compose-test/dockerd.log}"
mkdir -p "$(dirname "$PIDFILE")"

case "${1:-}" in
  start)
    if docker info >/dev/null 2>&1; then echo "reusing the running Docker engine"; exit 0; fi
    dockerd --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
      --storage-driver=overlay2 >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 60); do
      if docker info >/dev/null 2>&1; then echo "dockerd $(cat "$PIDFILE") started"; exit 0; fi
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
      sleep 0.5
    done
    echo "dockerd did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1
    ;;
  stop)
    [[ -f "$PIDFILE" ]] || exit 0
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      echo "dockerd $pid stopped"
    fi
    rm -f "$PIDFILE"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
