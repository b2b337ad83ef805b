# One entry point for a fresh machine: `make demo` (the main job) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/certcsi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install demo test lint
install: $(BIN)/certcsi

demo: install
	$(BIN)/certcsi sandbox demo

# Tests that mount run in a private mount namespace when we are root, so nothing leaks to the host.
test: install
	./scripts/test

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports
