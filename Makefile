# Sway — the two commands a newcomer needs are `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SWAY   := $(VENV)/bin/sway
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install compile system-deps dev test test-unit test-integration test-reliability lint broker-start broker-stop lock clean

install: $(STAMP)  ## .venv with the sway CLI and pinned dependencies

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

CORE_BUILD := build/mypyc/STAMP

compile: $(CORE_BUILD)  ## the scoring core compiled by mypyc (about 1.4x faster; SWAY_PURE_CORE=1 runs the sources)

$(CORE_BUILD): $(STAMP) $(wildcard stream/core/*.py) scripts/compile_core.py
	$(PY) -c "import setuptools" 2>/dev/null || $(PY) -m pip install -q setuptools
	@$(PY) scripts/compile_core.py || echo "make compile failed (is gcc installed?): the core runs interpreted"

system-deps:  ## Debian packages the tests use (prometheus, promtool, chromium + its driver) and gcc for `make compile`; a no-op when present
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null \
	    || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! command -v gcc >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends \
	    prometheus chromium chromium-driver gcc libc6-dev; \
	fi

dev: install compile  ## broker + worker + simulated traffic + the live dashboard (Ctrl-C stops it all)
	$(SWAY) dev

test: install system-deps compile  ## everything: unit tests and integration tests against a real local broker
	$(SWAY) broker start
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ -n "$$CI" ]; then $(SWAY) broker stop; fi; exit $$rc

test-reliability: install system-deps compile  ## the FULL reliability set: >=5 SIGKILLs, 100k fuzzed records, ...
	$(SWAY) broker start
	SWAY_RELIABILITY=full $(PY) -m pytest tests/reliability -m reliability --timeout 3600 $(PYTEST_ARGS)

test-unit: install system-deps compile
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check stream tests scripts
	$(VENV)/bin/mypy

broker-start: install
	$(SWAY) broker start

broker-stop: install
	$(SWAY) broker stop

lock:  ## re-resolve requirements.lock from pyproject.toml (then commit it)
	rm -rf /tmp/sway-lock && $(PYTHON) -m venv /tmp/sway-lock
	/tmp/sway-lock/bin/pip install -q '.[dev]'
	/tmp/sway-lock/bin/pip freeze --exclude sway > requirements.lock

clean:
	rm -rf $(VENV) .run build .pytest_cache .mypy_cache .ruff_cache
