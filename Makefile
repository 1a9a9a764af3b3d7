# chatstop: `make dev` runs the local stack, `make test` runs every test. Both set up .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench browser clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's chromium drives the browser test; Playwright never downloads a browser here.
browser: $(STAMP)
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet playwright

dev: $(STAMP)
	$(PY) -m devstack

test: $(STAMP) browser
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
