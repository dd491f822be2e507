# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeq-installed

.PHONY: setup demo test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/edgeq demo -o demo-out --force

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check edgeq tests benchmarks datasets

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
