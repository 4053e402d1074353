#!/usr/bin/env bash
# `make compose-test`: docker-compose.yml run for real, offline, end to end.
#   installs what is missing (install_tools.sh), starts dockerd (dockerd.sh; stops only the one it
#   started), makes the local base image (base_image.sh), builds the three stand-ins and the two
#   real images (Dockerfile, infra/docker/flink.Dockerfile) with the host's CA bundle as a build
#   secret, runs `docker compose up` with compose.offline.yml, waits for every healthcheck and
#   one-shot, sends live traffic and the seed-article replay through the containers
#   (`docker compose run --rm tools ...`), checks them (check_pipeline.py), then `down -v`.
# Run as root (dockerd). Images and the build cache stay in /var/lib/docker between runs.
# KEEP_DOCKERD=1 leaves a dockerd this script started running (faster warm re-runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/tests/compose/offline"
WORK="${COMPOSE_TEST_WORK:-/tmp/fraudstream-compose-test}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
PYTHON_STANDIN=local/python:3.11-slim-bookworm
export OFFLINE_HOSTNAME="$(hostname)"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-fraudstream-offline}"
# Small data: the size of the test suite's fixture (300 cards, 80,000 transactions, 45 days, 1% fraud).
export DEMO_CARDS="${DEMO_CARDS:-300}" DEMO_TRANSACTIONS="${DEMO_TRANSACTIONS:-80000}" \
  DEMO_START="${DEMO_START:-2020-01-01}" DEMO_END="${DEMO_END:-2020-02-15}" \
  DEMO_FRAUD_RATIO="${DEMO_FRAUD_RATIO:-0.01}" DEMO_AS_OF="${DEMO_AS_OF:-2020-02-14}"
LIVE_TRANSACTIONS="${LIVE_TRANSACTIONS:-2000}" LIVE_RATE="${LIVE_RATE:-200}"
mkdir -p "$WORK"

t0=$SECONDS
step() { printf '\n[%4ds] == %s\n' "$((SECONDS - t0))" "$*"; }
compose() { docker compose -f "$ROOT/docker-compose.yml" -f "$HERE/compose.offline.yml" "$@"; }

cleanup() {
  local rc=$?
  if docker info >/dev/null 2>&1; then
    if ((rc != 0)); then
      step "failed (exit $rc): state and last logs"
      compose ps -a || true
      compose logs --no-color --tail 300 > "$WORK/compose-logs.txt" 2>&1 || true
      echo "logs of every service: $WORK/compose-logs.txt"
    fi
    step "docker compose down -v"
    compose --profile tools down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  [[ "${KEEP_DOCKERD:-0}" == 1 ]] || bash "$HERE/dockerd.sh" stop
  printf '\n[%4ds] == done, exit %d (load average: %s)\n' "$((SECONDS - t0))" "$rc" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

step "tools"
bash "$HERE/install_tools.sh"
step "dockerd"
bash "$HERE/dockerd.sh" start
trap cleanup EXIT
step "base image"
bash "$HERE/base_image.sh"

build() {  # build TAG DOCKERFILE CONTEXT [extra args]: host network, CA bundle as a secret, cache kept
  local tag="$1" dockerfile="$2" context="$3"; shift 3
  local start=$SECONDS
  DOCKER_BUILDKIT=1 docker build --network host --progress plain \
    --secret "id=ca_bundle,src=$CA_BUNDLE" -f "$dockerfile" -t "$tag" "$@" "$context" > "$WORK/build-${tag//[\/:]/_}.log" 2>&1 \
    || { tail -30 "$WORK/build-${tag//[\/:]/_}.log"; echo "building $tag failed; log: $WORK/build-${tag//[\/:]/_}.log" >&2; return 1; }
  echo "built $tag in $((SECONDS - start)) s"
}
stage() {  # stage DIR SRC...: a build context of copies (infra/jvm/lib is not in the repo's context)
  local dir="$WORK/context-$1"; shift
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$@" "$dir/"
  echo "$dir"
}

step "images: stand-ins for python:3.11-slim-bookworm, apache/kafka, localstack"
test -f "$ROOT/infra/jvm/lib/kafka/kafka_2.13.jar" || make -C "$ROOT" setup
build "$PYTHON_STANDIN" "$HERE/python.Dockerfile" "$HERE"
kctx="$(stage kafka "$HERE/kafka-entrypoint.sh")"; cp -r "$ROOT/infra/jvm/lib/kafka" "$kctx/lib"
build local/kafka:4.1.1-standin "$HERE/kafka.Dockerfile" "$kctx"
dctx="$(stage dynamodb "$ROOT/infra/jvm/lib/launchers")"; cp -r "$ROOT/infra/jvm/lib/dynamodb" "$dctx/lib"
build local/dynamodb:standin "$HERE/dynamodb.Dockerfile" "$dctx"
step "images: the repository's Dockerfiles"
build fraudstream/endpoint:dev "$ROOT/Dockerfile" "$ROOT" --build-arg "PYTHON_IMAGE=$PYTHON_STANDIN"
build fraudstream/runtime:dev "$ROOT/infra/docker/flink.Dockerfile" "$ROOT" --build-arg "PYTHON_IMAGE=$PYTHON_STANDIN"
build fraudstream/prometheus:dev "$ROOT/infra/docker/prometheus.Dockerfile" "$ROOT" --build-arg "DEBIAN_IMAGE=${BASE_IMAGE:-local/debian:bookworm}"

step "docker compose up (data: $DEMO_CARDS cards, $DEMO_TRANSACTIONS transactions)"
compose --profile tools down -v --remove-orphans >/dev/null 2>&1 || true
compose up -d --no-build

step "waiting for every healthcheck and one-shot"
ONE_SHOTS="provision bootstrap job-submitter"
deadline=$((SECONDS + ${COMPOSE_WAIT_S:-900}))
while :; do
  pending=() failed=()
  while read -r service state health code; do
    if [[ " $ONE_SHOTS " == *" $service "* ]]; then
      [[ "$state" == exited && "$code" == 0 ]] || pending+=("$service:$state")
      [[ "$state" == exited && "$code" != 0 ]] && failed+=("$service exited $code")
    elif [[ "$state" != running ]]; then
      if [[ "$state" == exited || "$state" == dead ]]; then failed+=("$service $state ($code)"); fi
      pending+=("$service:$state")
    elif [[ "$health" != - && "$health" != healthy ]]; then
      [[ "$health" == unhealthy ]] && failed+=("$service unhealthy")
      pending+=("$service:$health")
    fi
  done < <(compose ps -a --format '{{.Service}} {{.State}} {{if .Health}}{{.Health}}{{else}}-{{end}} {{.ExitCode}}')
  if ((${#failed[@]})); then echo "FAILED: ${failed[*]}" >&2; exit 1; fi
  if ((${#pending[@]} == 0)); then echo "every service healthy, every one-shot done"; break; fi
  if ((SECONDS > deadline)); then echo "timed out waiting for: ${pending[*]}" >&2; exit 1; fi
  printf '[%4ds]   waiting for %s\n' "$((SECONDS - t0))" "${pending[*]}"
  sleep 10
done
compose ps -a --format 'table {{.Service}}\t{{.State}}\t{{.Status}}'

checks=(-v "$HERE/check_pipeline.py:/checks/check_pipeline.py:ro")
step "live traffic: $LIVE_TRANSACTIONS transactions at $LIVE_RATE/s through the containers"
compose run --rm "${checks[@]}" tools python /checks/check_pipeline.py live /data/transactions.parquet \
  "$LIVE_TRANSACTIONS" "$LIVE_RATE"
step "seed-article replay: docker compose run --rm tools fraudstream replay --scenario seed-article"
compose run --rm tools fraudstream replay --scenario seed-article --json /state/replay-seed-article.json
compose run --rm "${checks[@]}" tools python /checks/check_pipeline.py seed /state/replay-seed-article.json
step "PASSED: every transaction predicted, 10-minute counts exact, seed-article accepted"
