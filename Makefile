# chatstop: `make dev` runs the local stack, `make test` runs every test. Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench anchor-venv system-deps js-deps clean

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

# The LangGraph JS client, React and esbuild for tests/e2e's JS and browser tests, pinned by
# tests/js/package-lock.json; reinstalled only when the lock file changes. Without node those
# tests skip, so a machine without it still runs everything else.
JS_STAMP := tests/js/node_modules/.installed
$(JS_STAMP): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

js-deps:
	@if command -v node >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS_STAMP); \
	else echo "node not found: the JS client and browser tests will skip"; fi

dev: $(STAMP)
	$(PY) -m devstack

test: $(STAMP) system-deps js-deps
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# The benchmarks' anchor, LangGraph's own `langgraph dev`, gets a venv of its own: its
# dependencies would shift ours. langchain-openai is pinned to the version .venv resolved.
ANCHOR_VENV := .venv-anchor
ANCHOR_STAMP := $(ANCHOR_VENV)/.installed
$(ANCHOR_STAMP): bench/anchor/requirements.txt $(STAMP)
	test -x $(ANCHOR_VENV)/bin/python || $(PYTHON) -m venv $(ANCHOR_VENV)
	$(ANCHOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ANCHOR_VENV)/bin/python -m pip install --quiet -r bench/anchor/requirements.txt \
		"langchain-openai==$$($(PY) -c 'from importlib.metadata import version; print(version("langchain-openai"))')"
	touch $@

anchor-venv: $(ANCHOR_STAMP)

# chatstop and the anchor side by side (python -m bench --help; each bench.<name> runs alone)
bench: $(STAMP) $(ANCHOR_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(ANCHOR_VENV) .data .pytest_cache .mypy_cache .ruff_cache tests/js/node_modules
