# airflow-provider-gamma: `make test` and `make demo` work from a fresh clone with only python3 present.
SHELL := /bin/bash
PYTHON ?= python3
AIRFLOW_NEWEST ?= 3.3.2
AIRFLOW_OLDEST ?= 3.1.8
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy

TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
VENV_OLDEST := .venv-oldest

.PHONY: test test-newest test-oldest lint demo bench live-check constraints clean

test: lint test-newest test-oldest ## everything CI runs: ruff, mypy, the suite on the newest and oldest Airflow

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv

$(VENV)/.installed: constraints/airflow-newest.txt pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing -p 3.11 $(VENV)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q -r $< -e . --group dev
	touch $@

$(VENV_OLDEST)/.installed: constraints/airflow-oldest.txt pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing -p 3.11 $(VENV_OLDEST)
	VIRTUAL_ENV=$(VENV_OLDEST) $(UV) pip install -q -r $< -e . --group dev
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

AZURITE := $(TOOLS)/azurite/node_modules/.bin/azurite-blob
$(AZURITE): ## Azure Blob emulator for the abfs:// landing tests (npm; version as in tests/object_stores.py)
	npm install --prefix $(TOOLS)/azurite --no-audit --no-fund --silent \
		azurite@$$(sed -n 's/^AZURITE_VERSION = "\(.*\)"/\1/p' tests/object_stores.py)

test-newest: $(VENV)/.installed $(AZURITE)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-oldest: $(VENV_OLDEST)/.installed $(AZURITE)
	$(VENV_OLDEST)/bin/python -m pytest $(PYTEST_ARGS)

demo: $(VENV)/.installed ## the weekly-deck DAG against the bundled emulator; the deck lands in ./demo-output/
	$(VENV)/bin/python scripts/demo.py

bench: $(VENV)/.installed ## full-size benchmarks; results in benchmarks/results/ and README "Performance"
	$(VENV)/bin/python benchmarks/run_all.py

# Opt-in, never part of `make test` or CI: it spends a few of your Gamma credits (see README).
live-check: $(VENV)/.installed ## the emulator against the real Gamma, key for key; needs GAMMA_API_KEY
	@if [ -z "$$GAMMA_API_KEY" ]; then \
		echo "make live-check needs GAMMA_API_KEY: it runs against the real Gamma API and spends 1-3 credits" \
			"(README: 'Checking against the real Gamma')" >&2; exit 2; fi
	$(VENV)/bin/python scripts/live_check.py $(LIVE_CHECK_ARGS)

.PHONY: docs
docs: | $(UV) ## the docs site into site/: strict, so any warning, broken internal link or anchor fails it
	$(UV) venv -q --allow-existing -p 3.11 .venv-docs
	VIRTUAL_ENV=.venv-docs $(UV) pip sync -q docs/requirements.txt
	NO_MKDOCS_2_WARNING=1 .venv-docs/bin/mkdocs build --strict --site-dir site

constraints: | $(UV) ## re-lock both dependency sets
	$(UV) pip compile -q pyproject.toml --group dev --python-version 3.11 --upgrade \
		--constraint <(echo apache-airflow==$(AIRFLOW_NEWEST)) -o constraints/airflow-newest.txt
	$(UV) pip compile -q pyproject.toml --group dev --python-version 3.11 --upgrade \
		--constraint <(echo apache-airflow==$(AIRFLOW_OLDEST)) -o constraints/airflow-oldest.txt

clean:
	rm -rf $(VENV) $(VENV_OLDEST) $(TOOLS) demo-output .pytest_cache .mypy_cache .ruff_cache
