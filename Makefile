# Two commands do all the set-up on a fresh machine:
#   make serve   - create .venv, install, serve the bundled model on 127.0.0.1:8000
#   make test    - create .venv, install, run lint, type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint typecheck format load bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[cpu,train,dev]"
	touch $(STAMP)

install: $(STAMP)

# A development server listens on loopback only unless told otherwise
# (`make serve LANDMARKS_HOST=0.0.0.0`, or LANDMARKS_HOST in the environment). The settings'
# own default stays 0.0.0.0 for `python -m app`; the image and compose set it explicitly.
LANDMARKS_HOST ?= 127.0.0.1

serve: $(STAMP)
	LANDMARKS_HOST='$(LANDMARKS_HOST)' $(BIN)/python -m app

lint: $(STAMP)
	$(BIN)/ruff check app training tests benchmarks
	$(BIN)/ruff format --check app training tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	bash scripts/install_test_packages.sh
	VENV=$(VENV) bash scripts/check_containers.sh
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff format app training tests benchmarks
	$(BIN)/ruff check --fix app training tests benchmarks

# Load test on a real server (2,000 requests at concurrency 32, tiny model unless
# LOAD_ARGS="--model models/garment_landmarks"); exits non-zero if a criterion fails.
load: $(STAMP)
	$(BIN)/python benchmarks/load_test.py $(LOAD_ARGS)

# The service against the bare SavedModel (untrained full-width U-Net unless
# BENCH_ARGS="--model models/garment_landmarks"); results: benchmarks/results/service.md.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_service.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
