#!/usr/bin/env bash
# Run every stand-alone benchmark script in turn; each prints its figures and writes
# benchmarks/results/<name>.json + .png in the one schema of benchmarks/_common.py ("benchmark", the
# figures, and a "machine" block with cpus and load_avg_1m_start/end).
# Heavy ones (5.4M-row batch and training) take minutes on 2 cores; pass names to run a subset:
#   bash benchmarks/run_all.sh generate produce
# Not here: latency, recovery, chaos, soak (they drive the running local stack; soak and chaos: make soak, make chaos).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
all=(stack generate produce flink featurestore agg_writer scorer endpoint batch train deploy)
names=("${@:-${all[@]}}")
for name in "${names[@]}"; do
  echo "=== bench_${name}.py"
  "$PY" "benchmarks/bench_${name}.py"
done
