# Two commands do all set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, load the seed data and the IATI sample (merged) into SQLite under ./var/, make demo keys, serve on :8000
run: $(STAMP)
	$(BIN)/partnermatch import data/seed data/iati-sample
	@test -s var/demo-keys.txt || { umask 077; for role in broker reviewer admin; do \
		echo "$$role $$($(BIN)/partnermatch keys create --role $$role --name demo-$$role 2>/dev/null)"; \
	done > var/demo-keys.txt; }
	@echo "demo API keys (one per role) are in var/demo-keys.txt"
	$(BIN)/partnermatch serve --port $(PORT)

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
