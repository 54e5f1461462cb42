# Sextant — the entry points a newcomer reads first.
# Every target installs what it needs (uv from PyPI, then the locked workspace).

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV := .venv
STAMP := $(VENV)/.synced

HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: run test lint fmt bench mutation install clean help

help:
	@echo "make run    start the whole platform on http://$(HOST):$(PORT) (embedded PostgreSQL under ./.data)"
	@echo "make test   run every test against real PostgreSQL, Kafka-protocol broker and S3 servers"
	@echo "make lint   ruff + mypy (strict on libs/)"
	@echo "make fmt    format the tree with ruff"
	@echo "make mutation  mutation-test the pure cores (85 % of mutants killed per module; long)"
	@echo "make bench  benchmarks: bus, webhook accept rate, gateway latency, identity accuracy, Monte Carlo, freshness, archive throughput"

$(STAMP): uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml cli/pyproject.toml)
	@# uv is run as a module: pip may put its script anywhere (pyenv, --user, a venv)
	$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv || $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --all-packages --frozen
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/sextant run --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/contracts/src libs/runtime/src
	$(VENV)/bin/mypy services/*/src cli/src
	$(VENV)/bin/mypy tools/mutation

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV)/bin/python libs/runtime/bench/bench_bus.py
	@for b in services/*/bench/*.py cli/bench/*.py; do [ -f "$$b" ] || continue; $(VENV)/bin/python "$$b" || exit 1; done

mutation: $(STAMP)
	$(VENV)/bin/python tools/mutation/mutate.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) .mutation .pytest_cache .mypy_cache .ruff_cache
