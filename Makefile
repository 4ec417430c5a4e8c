# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench lock serve package clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/earnest demo

serve: $(STAMP)
	$(BIN)/earnest serve

# Debian's Chromium renders the HTML report in the browser test.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the report's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: install Debian's chromium (apt-get install chromium) for the browser test"; fi

# Debian's libfaketime runs the suite a second time with the clock a year ahead, all but
# tests/infra: the template and the package read no clock, and building the package runs
# pip and subprocess timeouts, which libfaketime's shifted monotonic clock breaks.
FAKETIME := /usr/bin/faketime
$(FAKETIME):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's faketime for the clock-a-year-ahead pass"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; \
	else echo "note: install Debian's faketime (apt-get install faketime) for the clock test"; fi

# The edge worker's tests: Node's test runner, Miniflare installed from the lock.
EDGE := clients/edge-worker
$(EDGE)/node_modules/.package-lock.json: $(EDGE)/package-lock.json
	cd $(EDGE) && npm ci --no-audit --no-fund --loglevel=error

# The IAB Tech Lab's TCF and GPP libraries, pinned, for the consent decoders' cross-check.
tests/iab/node_modules: tests/iab/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/iab --no-audit --no-fund --silent && touch $@; \
	else echo "note: install Node 20 and npm for the IAB cross-check (tests/iab)"; fi

# The one command CI runs (.ci/run): lint, types, template, every test, and every test
# again with the clock a year ahead (nothing may expire with the calendar). Four workers
# on two cores: most tests wait on a server, a browser or the worker, so a pass takes
# 276 s with four where it took 342 s with two (the same clone, one after the other).
# worksteal: a worker that runs out takes over part of another's queue, and the long tests
# start first (tests/conftest.py), so no worker idles while another finishes the pass.
# The suite starts hundreds of Python processes (CLI calls, stacks, workers, the demo): with
# PYTHONDONTWRITEBYTECODE set (this machine's environment sets it) each compiled the project's
# modules, and each xdist worker rewrote every test module, again (a pass: 253 s -> 236 s).
test: export PYTHONDONTWRITEBYTECODE :=
test: $(STAMP) $(CHROMIUM) $(FAKETIME) $(EDGE)/node_modules/.package-lock.json tests/iab/node_modules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/pytest -n 4 --dist worksteal -q
	@if [ -x $(FAKETIME) ]; then \
	  $(FAKETIME) -f +366d $(BIN)/pytest -n 4 --dist worksteal -q -p no:cacheprovider --ignore=tests/infra -m "not slow or clock"; \
	else echo "skipped the clock-a-year-ahead pass: no $(FAKETIME)"; fi
	cd $(EDGE) && EARNEST_PYTHON=$(CURDIR)/$(BIN)/python node --test test/*.test.js

# What `sam deploy` ships, for arm64 / CPython 3.12, without Docker (docs/deployment.md).
package: $(STAMP)
	$(BIN)/python infra/package.py

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Re-pin every dependency after editing pyproject.toml (needs `pip install uv`). One lock for
# every Python from 3.11 (dev) to the Lambda runtime's 3.12: markers say where a pin applies.
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
