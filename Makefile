# Two commands do everything on a fresh machine with only python3: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 50051
HTTP_PORT ?= 9070
# The shared examples: the spec's file beside the checkout, else the copy the tests keep.
EXAMPLES ?= $(if $(wildcard ../shared/spec/examples.jsonl),../shared/spec/examples.jsonl,tests/conformance/shared/examples.jsonl)

.PHONY: setup run test test-long bench fuzz crash-test lint mutate explore simulate diagram pictures conformance \
        conformance-grpc conformance-record codegen clean

# The virtualenv is rebuilt whenever pyproject.toml or constraints.txt changes. Quiet unless it
# fails (then its log is printed); under a lock (flock, where there is one), so `make run` and
# `make test` can start at the same time: the second waits, then finds the venv ready.
LOCK := $(shell command -v flock >/dev/null && echo flock build/setup.lock)
$(STAMP): pyproject.toml constraints.txt
	@mkdir -p build
	@$(LOCK) sh -c '[ $(STAMP) -nt pyproject.toml ] && [ $(STAMP) -nt constraints.txt ] && exit 0; \
	  echo "setting up $(VENV) (log: build/setup.log)"; \
	  { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip && \
	    $(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"; } > build/setup.log 2>&1 || \
	  { cat build/setup.log; echo "make setup failed: the log above is build/setup.log"; exit 1; }; \
	  touch $(STAMP)'

setup: $(STAMP)

run: setup  ## start the server: gRPC on $(HOST):$(PORT), Restate's HTTP admin API on $(HOST):$(HTTP_PORT); DB=FILE keeps the state
	$(PY) -m grpc_server --host $(HOST) --port $(PORT) --http-port $(HTTP_PORT) $(if $(DB),--db $(DB))

# The Node.js client test (a gRPC client in another language) needs its packages; without npm it
# skips, saying so (CI has Node and sets INVOCATION_LIFECYCLE_REQUIRE_NODE, so there it must run).
NODE_DEPS := tests/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/node/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null; \
	else echo "npm not found: the Node.js client tests will skip"; fi

test: setup $(NODE_DEPS)  ## every test, the replay of the shared examples included (Hypothesis derandomized)
	$(PY) -m pytest

test-long: setup $(NODE_DEPS)  ## every test with deep Hypothesis runs: 25x the examples, 4x longer sequences, random seeds
	HYPOTHESIS_PROFILE=long $(PY) -m pytest

# h2load (nghttp2's C HTTP/2 client) is the gRPC load generator: a Python client would spend more
# CPU per call than the server on these 2 cores. Installed from Debian when we are root; without
# it the bench falls back to Python clients and says so in its table.
bench: setup  ## benchmarks: prints a table, writes bench/results.json (ARGS='--explore-depth 6': ~20 min less)
	@command -v h2load >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q nghttp2-client >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nghttp2-client >/dev/null 2>&1; }; }; } || \
	  echo "h2load not installed: the gRPC figures will come from Python clients"
	$(PY) -m bench $(ARGS)

fuzz: setup  ## 100,000 random and extreme calls to a live server: answers by code, INTERNAL count, RSS
	$(PY) -m bench.fuzz $(ARGS)

crash-test: setup  ## SIGKILL a server keeping its state (--db) 100 times under load: acknowledged writes lost
	$(PY) -m bench.crash $(ARGS)

BUF := tests/node/node_modules/.bin/buf

lint: setup $(NODE_DEPS)  ## ruff check, ruff format --check, mypy --strict, buf lint and buf breaking (the contract)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	@if [ -x $(BUF) ]; then $(BUF) lint && $(BUF) breaking --against protos/buf-baseline.binpb && \
	  echo "buf: the contract lints clean and breaks nothing against protos/buf-baseline.binpb"; \
	else echo "buf not installed (it comes from npm): buf lint and buf breaking skipped"; fi

# mutmut (configured in pyproject.toml) runs in mutants/, a copy of fsm/ and tests/, from scratch each
# time: its cache would keep a survivor's verdict after a new test kills it. The copy finds the shared
# examples through INVOCATION_LIFECYCLE_EXAMPLES.
mutate: setup  ## mutation testing of the core (~6 min): killed, survived, the score, untriaged survivors
	rm -rf mutants
	INVOCATION_LIFECYCLE_EXAMPLES=$(abspath $(EXAMPLES)) HYPOTHESIS_PROFILE=ci $(VENV)/bin/mutmut run
	$(PY) -m bench.mutation

# The tools of fsm/tools take their flags from ARGS, e.g. make explore ARGS='--depth 5 --format json'.
explore: setup  ## search the state space: a witness of every restart-as-new answer, invariants checked
	$(PY) -m fsm.tools.explore $(ARGS)

simulate: setup  ## run the seeded workload simulator (ARGS='--invocations 1000000 --seed 1 --workers 2 --out run/')
	$(PY) -m fsm.tools.simulate $(ARGS)

diagram: setup  ## print the lifecycle diagram: Mermaid by default (ARGS='--format dot|json' or '--readme')
	$(PY) -m fsm.tools.diagram $(ARGS)

# The README's pictures, from the current code: graphviz renders the lifecycle (installed from Debian
# when we are root), matplotlib draws the admin table and a simulation's plot.
pictures: setup  ## docs/lifecycle.svg, docs/admin.svg and docs/simulation.svg, generated from the current code
	@command -v dot >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q graphviz >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null 2>&1; }; }; } || \
	  { echo "graphviz's dot is needed for docs/lifecycle.svg: apt-get install graphviz"; exit 2; }
	$(PY) -m fsm.tools.diagram --svg docs >/dev/null
	rm -f docs/admin.png
	$(PY) -m fsm.tools.simulate --invocations 100000 --seed 7 --set drain=true --set sample_every_s=30 \
	  --out build/pictures-run >/dev/null
	cp build/pictures-run/simulation.svg docs/simulation.svg

# conformance alone has a default, the shared examples; ARGS replaces the whole argument list, files
# included: make conformance ARGS='--skip-http a.jsonl b.jsonl'.
conformance: ARGS ?= $(EXAMPLES)
conformance: setup  ## replay case files against the in-process model (ARGS defaults to $(EXAMPLES))
	$(PY) -m fsm.tools.conformance $(ARGS)

conformance-grpc: setup  ## replay the shared examples over gRPC (own server on 127.0.0.1:0)
	$(PY) -m grpc_server.conformance $(EXAMPLES)

codegen: setup  ## regenerate grpc_server/gen/ from protos/
	$(PY) -m grpc_server.codegen

conformance-record:  ## record cases from a real restate-server (installs it under recording/.work)
	bash recording/record.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants
