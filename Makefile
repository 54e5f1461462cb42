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
PYTEST_ARGS ?= --durations=40

# The web portal (web/): npm ci from its lock, built to web/dist, which the gateway serves.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
WEB_MODULES := web/node_modules/.package-lock.json
NO_NPM := note: npm (Node.js 20+) not found: the web portal at / is not built; the API and the CLI work without it

.PHONY: run test lint fmt bench mutation install clean help web web-api web-test-deps

help:
	@echo "make run    start the whole platform on http://$(HOST):$(PORT) (embedded PostgreSQL under ./.data)"
	@echo "make test   run every test against real PostgreSQL, Kafka-protocol broker and S3 servers"
	@echo "make lint   ruff + mypy (strict on libs/) + hadolint on the Dockerfile"
	@echo "make fmt    format the tree with ruff"
	@echo "make mutation  mutation-test the pure cores (85 % of mutants killed per module; long)"
	@echo "make web-api  regenerate web/openapi.json and the portal's API types from the gateway"
	@echo "make bench  benchmarks: bus, webhook accept rate, gateway latency, identity accuracy, Monte Carlo, freshness (embedded and distributed), archive throughput and restore, portal"

$(STAMP): uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml cli/pyproject.toml)
	@# uv is run as a module: pip may put its script anywhere (pyenv, --user, a venv)
	$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv || $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --all-packages --frozen
	@touch $(STAMP)

install: $(STAMP)

$(WEB_MODULES): web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: $(WEB_MODULES) $(WEB_SOURCES)
	cd web && npm run build

# Built on first use and again when its lock or sources change; without npm, said once.
web:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory --quiet web/dist/index.html; \
	else echo "$(NO_NPM)"; fi

web-api: $(STAMP) $(WEB_MODULES)
	$(VENV)/bin/sextant openapi --output web/openapi.json
	cd web && npm run api

# What the portal's tests need: its packages and build, and Debian's Chromium (installed
# when missing and we are root; the end-to-end test says why it skips, or fails under CI).
web-test-deps: web
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get install -y -q chromium >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) \
	  || echo "note: could not install chromium"; fi

run: $(STAMP) web
	$(VENV)/bin/sextant run --host $(HOST) --port $(PORT)

# A worker per core, at most 4 (each starts its own servers); whole files to a worker, so a
# file's module fixtures are built once. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= auto
test: $(STAMP) web-test-deps
	@if command -v npm >/dev/null 2>&1; then cd web && npm test; else echo "$(NO_NPM)"; fi
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs/contracts/src libs/runtime/src
	$(VENV)/bin/mypy services/*/src cli/src
	$(VENV)/bin/mypy tools/mutation
	$(VENV)/bin/hadolint Dockerfile
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB_MODULES) && cd web && npm run typecheck; \
	else echo "$(NO_NPM)"; fi

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
