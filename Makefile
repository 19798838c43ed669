# One entry point per verb; CI runs `make test` through .ci/run.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test lint stubs bench setup

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages uv
	@$(UV) sync --frozen --quiet

run: setup  ## start the whole stack locally (SQLite under ./data, in-memory key store)
	@$(UV) run --frozen python -m gempool.common.devstack

test: setup  ## the whole suite (needs PostgreSQL and Redis on 127.0.0.1)
	@$(UV) run --frozen pytest -q -p no:cacheprovider

lint: setup
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy
	@$(UV) lock --check

stubs: setup  ## regenerate libs/api from proto/
	@$(UV) run --frozen python scripts/gen_protos.py

bench: setup  ## load benchmarks; prints figures (about 6 minutes)
	@$(UV) run --frozen python bench/run.py
	@$(UV) run --frozen python bench/keypool_bench.py --seconds 5 --concurrency 1,32,128
	@$(UV) run --frozen python bench/storm.py --seconds 90
