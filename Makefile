# Two commands do everything on a fresh machine with only python3: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 50051
EXAMPLES ?= ../shared/spec/examples.jsonl

.PHONY: setup run test bench lint conformance conformance-grpc conformance-record codegen diagram clean

# The virtualenv is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup  ## start the gRPC server on $(HOST):$(PORT)
	$(PY) -m grpc_server --host $(HOST) --port $(PORT)

# The Node.js client test (a gRPC client in another language) needs its packages.
NODE_DEPS := tests/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund

test: setup $(NODE_DEPS)  ## every test, the replay of the shared examples included
	$(PY) -m pytest

bench: setup  ## benchmarks: prints a table, writes bench/results.json
	$(PY) -m bench

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

conformance: setup  ## replay the shared examples against the in-process model
	$(PY) -m fsm.conformance $(EXAMPLES)

conformance-grpc: setup  ## replay the shared examples over gRPC (own server on 127.0.0.1:0)
	$(PY) -m grpc_server.conformance $(EXAMPLES)

codegen: setup  ## regenerate grpc_server/gen/ from protos/
	$(PY) -m grpc_server.codegen

conformance-record:  ## record cases from a real restate-server (installs it under recording/.work)
	bash recording/record.sh

diagram: setup
	$(PY) -m fsm.diagram --format mermaid

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
