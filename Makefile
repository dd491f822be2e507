# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeq-installed

.PHONY: setup toolchains demo test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Host compilers for the tests that compile generated C/C++. Installed with apt-get when missing
# and this runs as root (CI); elsewhere those tests skip with a reason, unless
# EDGEQ_REQUIRE_TOOLCHAINS=1, when they fail.
APT_PACKAGES := gcc g++

toolchains:
	@missing=""; for tool in $(APT_PACKAGES); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; \
	  else echo "note: missing$$missing (apt-get install$$missing); tests that need them will skip"; fi; \
	fi

setup: $(STAMP)

demo: setup
	$(BIN)/edgeq demo -o demo-out --force

test: setup toolchains
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check edgeq tests benchmarks datasets

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache
