# livebase: two commands for a newcomer.
#   make demo   create .venv, install, build a synthetic online school and segment it
#   make test   install, lint (ruff), type-check (mypy --strict), run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck pytest clean system-deps

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "livebase needs Python 3.11 or newer on PATH" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/livebase demo --out demo-school

# Debian packages the real-peer tests need (headless Chromium for the HTML report).
system-deps:
	@./.ci/system-deps

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

# One worker per core; a test file stays on one worker (its module fixtures are built once).
PYTEST_WORKERS ?= auto
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test: install system-deps lint typecheck pytest

clean:
	rm -rf $(VENV) demo-school .pytest_cache .mypy_cache .ruff_cache
