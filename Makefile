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
        conformance-grpc conformance-record codegen clean java-deps java-client

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

# $(call apt_install,PACKAGES): installs those of Debian's PACKAGES that are missing, when we are root
# and have apt-get (refreshing the package lists once if the first try fails); false when any is
# still missing, so that the caller can say what it will do without them.
apt_install = missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	  grep -q 'ok installed' || echo $$p; done); \
	[ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && \
	      apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1; }; }; }

run: setup  ## start the server: gRPC on $(HOST):$(PORT), Restate's HTTP admin API on $(HOST):$(HTTP_PORT); DB=FILE keeps the state
	$(PY) -m grpc_server --host $(HOST) --port $(PORT) --http-port $(HTTP_PORT) $(if $(DB),--db $(DB))

# The clients in other languages (tests/node, tests/java) are tested against the server. Without
# their tools their tests skip, saying what to install; CI sets INVOCATION_LIFECYCLE_REQUIRE_CLIENTS,
# and there they fail instead. The Node.js client needs its npm packages:
NODE_DEPS := tests/node/node_modules/.package-lock.json
$(NODE_DEPS): tests/node/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null; \
	else echo "npm not found: the Node.js client tests will skip"; fi

# The Java client is built only from Debian's packages: protoc with grpc-java's plugin, grpc-java,
# protobuf-java and the jars they need at run time. `make java-deps` installs them when we are root.
JAVA_PACKAGES := default-jdk-headless protobuf-compiler protobuf-compiler-grpc-java-plugin libprotobuf-java \
  libgrpc-java libnetty-java libperfmark-java libguava-java libgeronimo-annotation-1.3-spec-java
JAVA_JARS := protobuf grpc-api grpc-context grpc-core grpc-stub grpc-protobuf grpc-protobuf-lite grpc-netty \
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-common netty-handler netty-resolver \
  netty-transport guava perfmark-api geronimo-annotation-1.3-spec
JAVA_CLASSPATH := $(subst $(eval) ,:,$(JAVA_JARS:%=/usr/share/java/%.jar))
JAVA_BUILD := build/java
JAVA_CLIENT := $(JAVA_BUILD)/classes/RestartAsNew.class
# google/rpc/*.proto come from googleapis-common-protos, google/protobuf/*.proto from grpcio-tools.
PROTO_INCLUDES = -I protos -I $$($(PY) -c 'import google.rpc, pathlib; print(pathlib.Path(google.rpc.__path__[0]).parents[1])') \
  -I $$($(PY) -c 'import grpc_tools, pathlib; print(pathlib.Path(grpc_tools.__file__).parent / "_proto")')

java-deps:  ## install Debian's grpc-java, protobuf-java and protoc for the Java client (as root)
	@$(call apt_install,$(JAVA_PACKAGES)) || { echo "could not install $$missing: run as root, with apt-get"; exit 1; }

$(JAVA_CLIENT): tests/java/RestartAsNew.java $(wildcard protos/invocation_lifecycle/v1/*.proto) $(STAMP)
	@rm -rf $(JAVA_BUILD) && mkdir -p $(JAVA_BUILD)/gen $(JAVA_BUILD)/classes
	protoc $(PROTO_INCLUDES) --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
	  --java_out=$(JAVA_BUILD)/gen --grpc-java_out=$(JAVA_BUILD)/gen \
	  protos/invocation_lifecycle/v1/*.proto google/rpc/status.proto google/rpc/error_details.proto
	javac -nowarn -d $(JAVA_BUILD)/classes -cp $(JAVA_CLASSPATH) $$(find $(JAVA_BUILD)/gen -name '*.java') \
	  tests/java/RestartAsNew.java
	@echo "$(JAVA_CLASSPATH)" > $(JAVA_BUILD)/classpath

java-client: setup  ## build the Java client of tests/java into build/java (installs Debian's grpc-java as root)
	@if $(call apt_install,$(JAVA_PACKAGES)); then $(MAKE) --no-print-directory -s $(JAVA_CLIENT); else \
	  echo "the Java client tests will skip: Debian packages missing ($$missing), which make java-deps installs as root"; fi

test: setup $(NODE_DEPS) java-client  ## every test, the replay of the shared examples included (Hypothesis derandomized)
	$(PY) -m pytest

test-long: setup $(NODE_DEPS) java-client  ## every test with deep Hypothesis runs: 25x the examples, 4x longer sequences, random seeds
	HYPOTHESIS_PROFILE=long $(PY) -m pytest

# h2load (nghttp2's C HTTP/2 client) is the gRPC load generator: a Python client would spend more
# CPU per call than the server on these 2 cores. Installed from Debian when we are root; without
# it the bench falls back to Python clients and says so in its table.
bench: setup  ## benchmarks: prints a table, writes bench/results.json (ARGS='--explore-depth 6': ~20 min less)
	@$(call apt_install,nghttp2-client) || echo "h2load not installed: the gRPC figures will come from Python clients"
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
	@$(call apt_install,graphviz) || { echo "graphviz's dot is needed for docs/lifecycle.svg: apt-get install graphviz"; exit 2; }
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
