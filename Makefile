# Two commands do all set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, load the seed data into SQLite under ./var/ (the service arrives with the API)
run: $(STAMP)
	$(BIN)/partnermatch import data/seed

## test: install, then run the whole test suite and the linters
test: $(STAMP)
	$(BIN)/pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test-fast: the unit tests only, in seconds
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -q

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
