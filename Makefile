# chatstop: `make dev` runs the local stack, `make test` runs every test. Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

# What the tests need from Debian: chromium for the browser test (Playwright drives it and
# never downloads a browser) and a PostgreSQL server for the Postgres thread store test.
SYSTEM_PACKAGES := chromium postgresql
system-deps: $(STAMP)
	@test -x /usr/bin/chromium && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		 apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null)

dev: $(STAMP)
	$(PY) -m devstack

test: $(STAMP) system-deps
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

bench: $(STAMP)
	$(PY) -m bench.token_latency
	$(PY) -m bench.history_size
	$(PY) -m bench.stop_latency

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
