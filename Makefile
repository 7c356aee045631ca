# The few commands a newcomer needs. `make help` lists them.
PYTHON ?= python3
MIRROR ?= $(or $(IMDX_MIRROR),$(abspath ../shared/data))
DB ?= imdx.duckdb
PORT ?= 8000

.PHONY: help install assets run load serve test test-fast bench lint

help:  ## list the commands
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install:  ## install imdx and its test tools
	$(PYTHON) -m pip install -q -e '.[dev]'

assets:  ## install the portal's front-end libraries from npm (served by imdx itself, no CDN)
	sh imdx/portal/build_assets.sh

run: install assets load  ## the main job: install, load every source, print the summary and report, serve the portal
	imdx serve --db $(DB) --port $(PORT)

load:  ## load every source (from IMDX_MIRROR when set, else the publishers); summary and issue report
	-IMDX_MIRROR=$(MIRROR) imdx load --db $(DB)

test: install assets  ## run the test suite on the real files in the mirror
	IMDX_MIRROR=$(MIRROR) $(PYTHON) -m pytest -q

test-fast:  ## the fast loop: every test but the slow ones (full store, browser, biggest loads), on 2 processes
	IMDX_MIRROR=$(MIRROR) $(PYTHON) -m pytest -q -m "not slow" -n 2

bench: install  ## run the load benchmark (imdx against plain pandas reading the same files)
	IMDX_MIRROR=$(MIRROR) $(PYTHON) benchmarks/bench_load.py

lint:  ## check the code: style and likely bugs (ruff), the types of the store, query, load and the API (mypy)
	ruff check imdx tests benchmarks
	$(PYTHON) -m mypy
