# livebase: two commands for a newcomer.
#   make demo   create .venv, install, build a synthetic online school and segment it
#   make test   install, lint (ruff), type-check (mypy --strict), run the whole test suite
#   make messages  extract the messages to translate, update the .po files, compile the .mo
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck pytest clean system-deps messages

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

# The message catalogue: marked messages (_l, _nl) and the help of cli/ (babel.cfg), the
# Russian .po updated (translate the new entries), the .mo compiled and committed.
LOCALE := src/livebase/i18n/locale
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k _l -k _nl:1,2 -k N_ \
		--add-location=file --sort-by-file --no-wrap --project=livebase \
		--omit-header -o $(LOCALE)/livebase.pot .
	$(BIN)/pybabel update -i $(LOCALE)/livebase.pot -d $(LOCALE) -D livebase -l ru \
		--no-wrap --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALE) -D livebase --statistics

clean:
	rm -rf $(VENV) demo-school .pytest_cache .mypy_cache .ruff_cache
