# WeShare research workbench. `make up` then open http://127.0.0.1:8000 ; `make test` runs everything.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: up down status test test-fast lint bench install chromium proxy clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PIP) install -q --upgrade pip
	@$(PIP) install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	@$(PY) -m hub.ops up

down:
	@test -x $(PY) && $(PY) -m hub.ops down || true

status: $(STAMP)
	@$(PY) -m hub.ops status

chromium:
	@{ command -v chromium && command -v espeak-ng; } >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium espeak-ng >/dev/null; }

proxy: $(STAMP)
	@$(PY) -m hub.ops install-proxy

lint: $(STAMP)
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports

# Three workers, a test file each at a time: most tests wait on subprocesses, servers, browsers and
# databases (two workers kept the 2 cores 61 % busy); a file's module fixtures (a live hub) stay on
# one worker. 2026-12-07: 1393 tests in 15 min 37 s with three, 19 min 7 s with two.
TEST_WORKERS ?= 3

test: $(STAMP) chromium proxy lint
	@.venv/bin/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	@.venv/bin/pytest -q -m "not browser and not slow"

bench: $(STAMP)
	@rm -f benchmarks/results/latest.jsonl
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: down
	rm -rf var
