# One entry point per verb; CI runs `make test` through .ci/run.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test lint stubs bench setup images

# promtool (Debian's prometheus package) tests deploy/prometheus/rules.yml; installed when missing,
# by apt-get as root (CI and these machines run as root; elsewhere install it yourself). chromium
# (and a CJK font) likewise, for the admin panel's browser tests.
setup:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages uv
	@$(UV) sync --frozen --quiet
	@command -v promtool >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || \
		 { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && \
		   apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends prometheus >/dev/null; }); } || \
		echo "promtool is missing: install Debian's prometheus package (the rules tests need it)"
	@# The admin panel's browser tests drive Debian's chromium (Playwright never downloads a browser);
	@# a CJK font keeps the Chinese panel's screenshots readable.
	@{ command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; } || \
		{ [ "$$(id -u)" = 0 ] && \
		(apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null 2>&1 || \
		 { apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && \
		   apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null; }); } || \
		echo "chromium is missing: install Debian's chromium package (the admin panel's browser tests need it)"

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

images:  ## build the four images (docker buildx bake; REGISTRY=host/ TAG=x PUSH=1 to push)
	REGISTRY="$(REGISTRY)" $(if $(TAG),TAG="$(TAG)") docker buildx bake $(if $(PUSH),--push)
