# shopbridge: `make demo` and `make test` set everything up themselves.
# Two installs: the runtime alone (what `make demo` needs) and the development tools on top of it
# (what tests, lint, type checks and benchmarks need). Each has its stamp, so `make demo` in a new
# checkout installs no mypy, matplotlib or hypothesis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP := $(VENV)/.dev-stamp

# The browser tests drive Debian's Chromium (Playwright's own browser download is never used).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck unit bench clean chromium

$(RUNTIME_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(DEV_STAMP)

.venv: $(DEV_STAMP)

# A no-op when Chromium is there; else Debian's package (apt-get update once, then install).
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

demo: $(RUNTIME_STAMP)
	$(BIN)/shopbridge demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check shopbridge tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

unit: $(DEV_STAMP) chromium
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
