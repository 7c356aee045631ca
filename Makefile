# The few commands a newcomer needs. `make help` lists them.
PYTHON ?= python3
MIRROR ?= $(or $(IMDX_MIRROR),$(abspath ../shared/data))
DB ?= imdx.duckdb
PORT ?= 8000
# The Debian packages the tests and the portal need, in one place: COMMAND:PACKAGE, the package is installed
# when the command is missing (Chromium and its driver for the browser tests, Node.js for the portal's assets,
# Java for the Spark engine of `imdx census`, PostgreSQL for the store tests on a server: tests/pgserver.py).
SYSTEM_PACKAGES ?= chromium:chromium chromedriver:chromium-driver node:nodejs npm:npm java:default-jre-headless \
  pg_ctlcluster:postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help system java install assets run load serve test test-fast bench lint

help:  ## list the commands
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

system:  ## install the Debian packages the tests need (SYSTEM_PACKAGES) when they are missing; as root or with sudo
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing the Debian packages$$missing"; \
	  if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null 2>&1; then \
	    echo "make system: run it as root, or install sudo, to install$$missing" >&2; exit 1; fi; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

java:  ## install only Java (the Spark engine of `imdx census`) when it is missing: `make system` for Java alone
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES=java:default-jre-headless

install:  ## install imdx and its test tools
	$(PYTHON) -m pip install -q -e '.[dev]'

assets: system  ## install the portal's front-end libraries from npm (served by imdx itself, no CDN)
	sh imdx/portal/build_assets.sh

run: system install assets load  ## the main job: install, load every source, print the summary and report, serve the portal
	imdx serve --db $(DB) --port $(PORT)

load:  ## load every source (from IMDX_MIRROR when set, else the publishers); summary and issue report
	-IMDX_MIRROR=$(MIRROR) imdx load --db $(DB)

test: system install assets  ## run the test suite on the real files in the mirror (store tests on DuckDB and PostgreSQL)
	IMDX_MIRROR=$(MIRROR) $(PYTHON) -m pytest -q

test-fast:  ## the fast loop: every test but the slow ones (full store, browser, biggest loads), on 2 processes
	IMDX_MIRROR=$(MIRROR) $(PYTHON) -m pytest -q -m "not slow" -n 2

bench: install  ## run the load benchmark (imdx against plain pandas reading the same files)
	IMDX_MIRROR=$(MIRROR) $(PYTHON) benchmarks/bench_load.py

lint:  ## check the code: style and likely bugs (ruff), the types of the store, query, load and the API (mypy)
	ruff check imdx tests benchmarks
	$(PYTHON) -m mypy
