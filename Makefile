# `make run` and `make test` are the whole set-up on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install train serve bench clean reliability

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,scale]'
	touch $(STAMP) $(RUN_STAMP)

# Serving and training need none of the test tools: `make run` on a fresh clone installs less.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check features training serving tests bench
	$(BIN)/ruff format --check features training serving tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

# Trains the default model when the registry has no champion yet, then serves it.
run: $(RUN_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/redflag train --if-no-champion
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/redflag serve --host $(HOST) --port $(PORT)

# Fuzzing, 5 minutes of load with a champion swap, faults, bad data, PostgreSQL: one summary.
reliability: $(STAMP)
	RELIABILITY_SCALE=full $(BIN)/python -m pytest tests/reliability -m 'reliability or not reliability'

# Every benchmark against its peer, then bench/results/summary.json and the table (QUICK=1: short).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
