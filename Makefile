# The few commands a newcomer needs. `make help` lists them.
PYTHON ?= python3
MIRROR ?= $(or $(IMDX_MIRROR),$(abspath ../shared/data))
DB ?= imdx.duckdb

.PHONY: help install run test bench lint

help:  ## list the commands
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install:  ## install imdx and its test tools
	$(PYTHON) -m pip install -q -e '.[dev]'

run: install  ## load every source (from IMDX_MIRROR when set, else the publishers) and print the report
	IMDX_MIRROR=$(MIRROR) imdx load --db $(DB)

test: install  ## run the test suite on the real files in the mirror
	IMDX_MIRROR=$(MIRROR) $(PYTHON) -m pytest -q

bench: install  ## run the benchmarks (each against its named baseline)
	IMDX_MIRROR=$(MIRROR) $(PYTHON) benchmarks/bench_load.py

lint:  ## check the code style
	ruff check imdx tests benchmarks
