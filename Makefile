# Two commands for a fresh machine (see README):
#   make demo   set up and run the main job on the built-in demo model
#   make test   set up and run lint, type check and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-dev

.PHONY: setup setup-run demo test lint typecheck pytest conformance clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch is pinned and installed first: an unpinned torch would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $@

setup: $(STAMP)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[all]'
	touch $@

setup-run: $(VENV)/.installed-run

demo: setup-run
	$(VENV)/bin/logos demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest

# The official MCP conformance suite against logos-mcp over HTTP (needs npm; installs Node 22 once).
conformance: setup
	LOGOS_MCP=$(VENV)/bin/logos-mcp mcp_server/run_conformance.sh

test: lint typecheck pytest conformance

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
