#!/usr/bin/env bash
# Run every benchmark script in turn; each prints its figures and writes benchmarks/results/<name>.json (+ PNG).
# Heavy ones (5.4M-row batch and training) take minutes on 2 cores; pass names to run a subset:
#   bash benchmarks/run_all.sh generate produce
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
all=(stack generate produce flink featurestore scorer endpoint batch train deploy)
names=("${@:-${all[@]}}")
for name in "${names[@]}"; do
  echo "=== bench_${name}.py"
  "$PY" "benchmarks/bench_${name}.py"
done
