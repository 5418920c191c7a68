# Coachwire: `make run` starts everything on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
PYTEST_ARGS ?=
# Test processes: each starts its own embedded servers; live-stack tests share one (tests/conftest.py).
TEST_WORKERS ?= 2

.PHONY: run test test-fast lint typecheck bench bench-full install clean-data help

help:
	@echo "make run        start the whole product (embedded PostgreSQL + Valkey unless URLs are set)"
	@echo "make test       run the whole test suite on real PostgreSQL + pgvector and Valkey"
	@echo "make lint       ruff + mypy + import-linter (the layers)"
	@echo "make bench      quick benchmark profile (writes docs/benchmarks.md)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(PY) -m project.run

test: $(STAMP)
	env -u DJANGO_SETTINGS_MODULE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP)
	env -u DJANGO_SETTINGS_MODULE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not live and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: $(STAMP)
	$(PY) -m bench --profile quick

bench-full: $(STAMP)
	$(PY) -m bench --profile full

clean-data:
	rm -rf .data
