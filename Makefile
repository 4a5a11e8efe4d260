# MIKRO-DOJO: `make demo` sets everything up and starts the demo; `make test` sets up and runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup demo test test-py test-node bench soak fuzz chromium poppler nginx postgresql redis clean

setup: $(PY_STAMP) $(NODE_STAMP)

# torch first, pinned: that is the local CPU build; an unpinned torch would pull several GB of CUDA.
$(PY_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install -y chromium"; fi; }

# poppler's pdftoppm: the marker-sheet tests print the PDF to pixels and measure it.
poppler:
	@command -v pdftoppm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq poppler-utils; \
	  else echo "marker sheet tests need pdftoppm: sudo apt-get install -y poppler-utils"; fi; }

# Debian's nginx for the load-balancer layout test (tests/server/ops/test_nginx.py runs deploy/nginx/).
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nginx; \
	  else echo "the nginx layout test needs Debian's nginx: sudo apt-get install -y nginx"; fi; }

# Debian's PostgreSQL server binaries: the storage tests start their own throwaway server (never the
# system service); `dojo demo` and a single classroom need none of it (SQLite).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql; \
	  else echo "storage tests need Debian's postgresql: sudo apt-get install -y postgresql"; fi; }

# Debian's redis-server: the several-processes tests start their own (tests/server/cluster/).
redis:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq redis-server; \
	  else echo "cluster tests need Debian's redis-server: sudo apt-get install -y redis-server"; fi; }

# `make demo DEMO_ARGS="--cars 6 --port 8081"` passes options through to `dojo demo`.
demo: setup
	$(VENV)/bin/dojo demo $(DEMO_ARGS)

test: setup chromium poppler nginx postgresql redis test-py test-node

test-py: setup
	$(PY) -m pytest -q

test-node: setup
	npm test

bench: setup
	$(PY) -m benchmarks

# Reliability with figures (docs/reliability.md): 30 kids on 30 simulated cars with faults, then 100,000
# bad messages. `make soak SOAK_MINUTES=5`, `make fuzz FUZZ_MESSAGES=20000`; results in artifacts/.
SOAK_MINUTES ?= 30
FUZZ_MESSAGES ?= 100000
soak: setup
	nice -n 10 $(PY) -m stress.soak --minutes $(SOAK_MINUTES)

fuzz: setup
	nice -n 10 $(PY) -m stress.fuzz --messages $(FUZZ_MESSAGES)

clean:
	rm -rf $(VENV) node_modules var artifacts
