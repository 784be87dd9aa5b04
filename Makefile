# Two commands do all the set-up on a fresh machine:
#   make serve   - create .venv, install what serving needs, serve the bundled model on 127.0.0.1:8000
#   make test    - create .venv, install everything, run lint, type checks and the whole test suite
# `make help` lists every target.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Serving needs the service and TensorFlow only; training, tests and tools add the train and
# dev extras (TensorBoard, matplotlib, the ImageNet weights, pytest, mypy, schemathesis...).
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed

.PHONY: help install install-serve serve test lint typecheck format load bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --quiet -e ".[cpu]"
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --quiet -e ".[cpu,train,dev]"
	touch $(STAMP) $(SERVE_STAMP)

install: $(STAMP)  ## create .venv with everything (serving, training, tests)

install-serve: $(SERVE_STAMP)  ## create .venv with what serving needs only

# A development server listens on loopback only unless told otherwise
# (`make serve LANDMARKS_HOST=0.0.0.0`, or LANDMARKS_HOST in the environment). The settings'
# own default stays 0.0.0.0 for `python -m app`; the image and compose set it explicitly.
LANDMARKS_HOST ?= 127.0.0.1

serve: $(SERVE_STAMP)  ## serve the bundled model (LANDMARKS_HOST=0.0.0.0 to listen on all interfaces)
	LANDMARKS_HOST='$(LANDMARKS_HOST)' $(BIN)/python -m app

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check app training tests benchmarks
	$(BIN)/ruff format --check app training tests benchmarks

typecheck: $(STAMP)  ## mypy
	$(BIN)/mypy

test: lint typecheck  ## lint, types and the whole test suite (what CI runs)
	bash scripts/install_test_packages.sh
	VENV=$(VENV) bash scripts/check_containers.sh
	$(BIN)/pytest

format: $(STAMP)  ## ruff format and autofix
	$(BIN)/ruff format app training tests benchmarks
	$(BIN)/ruff check --fix app training tests benchmarks

# Load test on a real server (2,000 requests at concurrency 32, tiny model unless
# LOAD_ARGS="--model models/garment_landmarks"); exits non-zero if a criterion fails.
load: $(STAMP)  ## load test on a real server
	$(BIN)/python -m benchmarks.load_test $(LOAD_ARGS)

# The service against the bare SavedModel (untrained full-width U-Net unless
# BENCH_ARGS="--model models/garment_landmarks"); results: benchmarks/results/service.md.
bench: $(STAMP)  ## the service against the bare model
	$(BIN)/python -m benchmarks.bench_service $(BENCH_ARGS)

clean:  ## remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
