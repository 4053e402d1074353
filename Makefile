# fraudstream — the two commands a user needs: `make demo` and `make test`.
# `make setup` is idempotent: a second run does no network work (stamps below).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
JVM    := infra/jvm
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo lint format stack-up stack-down bench clean help compose-test soak chaos

help:
	@echo "make setup   - create .venv, install the project, fetch the JVM engines with Maven"
	@echo "make test    - setup, then the whole test suite against real local engines"
	@echo "make demo    - setup, then the end-to-end demo on the local stack"
	@echo "make lint    - ruff"
	@echo "make bench   - run the benchmark scripts (writes benchmarks/results/*.json)"
	@echo "make compose-test - build the images and run docker-compose.yml end to end, offline (root)"

setup: $(VENV)/.installed $(JVM)/lib/.fetched
	@bash scripts/install_chromium.sh || echo "warning: headless Chromium (Debian package chromium) could not be installed: the dashboard's browser tests will skip (scripts/install_chromium.sh needs root or sudo)"

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(JVM)/lib/.fetched: $(JVM)/pom.xml $(wildcard $(JVM)/launchers/*.java) scripts/fetch_jvm.sh
	bash scripts/fetch_jvm.sh
	@touch $@

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not integration" $(PYTEST_ARGS)

demo: setup
	$(BIN)/fraudstream demo

lint: setup
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format .

stack-up: setup
	$(BIN)/fraudstream stack up

stack-down:
	$(BIN)/fraudstream stack down

bench: setup
	bash benchmarks/run_all.sh

# Soak on a stack of its own (state dir and ports off the defaults): SOAK_MINUTES=2 for the short check.
SOAK_MINUTES ?= 30
SOAK_ENV = FRAUDSTREAM_STATE_DIR=/tmp/fraudstream-soak FRAUDSTREAM_KAFKA_PORT=19092 FRAUDSTREAM_KAFKA_CONTROLLER_PORT=19093 \
	FRAUDSTREAM_DYNAMODB_PORT=18000 FRAUDSTREAM_FLINK_REST_PORT=18081 FRAUDSTREAM_FLINK_RPC_PORT=16123 FRAUDSTREAM_ENDPOINT_PORT=18080 \
	FRAUDSTREAM_MONITOR_PORT=18090 FRAUDSTREAM_CLOCK_METRICS_PORT=18091 FRAUDSTREAM_AGG_WRITER_METRICS_PORT=18092 \
	FRAUDSTREAM_FRAUD_SCORER_METRICS_PORT=18093
soak: setup
	cd benchmarks && $(SOAK_ENV) ../$(BIN)/python bench_soak.py --minutes $(SOAK_MINUTES) --rate 1000; \
	status=$$?; $(SOAK_ENV) ../$(BIN)/fraudstream stack down; exit $$status

chaos: setup
	cd benchmarks && $(SOAK_ENV) FRAUDSTREAM_STATE_DIR=/tmp/fraudstream-chaos ../$(BIN)/python bench_chaos.py --rate 1000; \
	status=$$?; $(SOAK_ENV) FRAUDSTREAM_STATE_DIR=/tmp/fraudstream-chaos ../$(BIN)/fraudstream stack down; exit $$status

# By hand, before a submission that touches a Dockerfile, docker-compose.yml or the settings (not in .ci/run: README).
compose-test: setup
	bash tests/compose/offline/compose_test.sh

clean:
	-$(BIN)/fraudstream stack down
	rm -rf .fraudstream build dist
