# fraudstream — the two commands a user needs: `make demo` and `make test`.
# `make setup` is idempotent: a second run does no network work (stamps below).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
JVM    := infra/jvm
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo lint format stack-up stack-down bench clean help compose-test

help:
	@echo "make setup   - create .venv, install the project, fetch the JVM engines with Maven"
	@echo "make test    - setup, then the whole test suite against real local engines"
	@echo "make demo    - setup, then the end-to-end demo on the local stack"
	@echo "make lint    - ruff"
	@echo "make bench   - run the benchmark scripts (writes benchmarks/results/*.json)"
	@echo "make compose-test - build the images and run docker-compose.yml end to end, offline (root)"

setup: $(VENV)/.installed $(JVM)/lib/.fetched

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

# By hand, before a submission that touches a Dockerfile, docker-compose.yml or the settings (not in .ci/run: README).
compose-test: setup
	bash tests/compose/offline/compose_test.sh

clean:
	-$(BIN)/fraudstream stack down
	rm -rf .fraudstream build dist
