# airflow-provider-gamma: `make test` and `make demo` work from a fresh clone with only python3 present.
SHELL := /bin/bash
PYTHON ?= python3
AIRFLOW_NEWEST ?= 3.3.2
# The newest suite runs on the newest Python that Airflow $(AIRFLOW_NEWEST) supports and CI's machine has
# (3.14 is supported, but not there); the oldest on the oldest Python the package supports.
PY_NEWEST ?= 3.13
PY_OLDEST ?= 3.11
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy

TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
VENV := .venv
VENV_OLDEST := .venv-oldest

.PHONY: test test-newest test-oldest lint demo bench live-check constraints clean

test: lint docs test-newest test-oldest ## everything CI runs: ruff, mypy, the docs build, the suite on the newest and oldest Airflow

# $(call venv,DIR,VERSION,NAME): make DIR a venv on Python VERSION (PY_NAME), recreated if it runs another one.
# uv cannot download an interpreter here (no network but package registries), so one is looked for where uv,
# PATH and pyenv keep them; a candidate counts only if it runs and says it is VERSION (a pyenv shim for a
# version pyenv has not selected does not). Relocatable, so a venv built beside another can be renamed into place.
define venv
	@for py in "$$($(UV) python find $(2) 2>/dev/null)" "$$(command -v python$(2))" \
		$$(ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$(2).*/bin/python$(2) 2>/dev/null | sort -rV) NONE; do \
		if [ "$$py" = NONE ]; then \
			echo "make: $(1) needs Python $(2) and found none (uv, PATH, pyenv). Install it (e.g." \
				"'pyenv install $(2)' or your system's python$(2) package), or set PY_$(3) to a Python you" \
				"have and re-lock (make constraints)." >&2; exit 1; fi; \
		[ -n "$$py" ] && [ "$$("$$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = $(2) ] \
			&& break; \
	done; \
	[ "$$($(1)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = $(2) ] \
		|| rm -rf $(1); \
	$(UV) venv -q --allow-existing --relocatable -p "$$py" $(1)
endef

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv

# Each venv holds exactly its lock (every extra and the dev group), then the package itself, editable.
$(VENV)/.installed: constraints/airflow-newest.txt pyproject.toml | $(UV)
	$(call venv,$(VENV),$(PY_NEWEST),NEWEST)
	VIRTUAL_ENV=$(VENV) $(UV) pip sync -q $<
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
	touch $@

# The oldest Airflow the package allows, with every direct dependency at its floor (docs/versioning.md).
$(VENV_OLDEST)/.installed: constraints/lowest-direct.txt pyproject.toml | $(UV)
	$(call venv,$(VENV_OLDEST),$(PY_OLDEST),OLDEST)
	VIRTUAL_ENV=$(VENV_OLDEST) $(UV) pip sync -q $<
	VIRTUAL_ENV=$(VENV_OLDEST) $(UV) pip install -q --no-deps -e .
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

# The lowest set: uv's lowest-direct resolution of the direct dependencies alone gives each one's floor
# (floors.txt); everything else is then resolved around those floors, newest first.
constraints: | $(UV) ## re-lock both dependency sets (after a change of dependencies or floors; commit the result)
	$(UV) pip compile -q pyproject.toml --all-extras --group dev --python-version $(PY_NEWEST) --upgrade \
		--constraint <(echo apache-airflow==$(AIRFLOW_NEWEST)) -o constraints/airflow-newest.txt
	$(UV) pip compile -q pyproject.toml --all-extras --no-deps --resolution lowest-direct \
		--python-version $(PY_OLDEST) -o constraints/floors.txt
	$(UV) pip compile -q pyproject.toml --all-extras --group dev --python-version $(PY_OLDEST) --upgrade \
		--constraint constraints/floors.txt -o constraints/lowest-direct.txt

clean:
	rm -rf $(VENV) $(VENV_OLDEST) .venv-docs $(TOOLS) demo-output site live-check-output .pytest_cache .mypy_cache .ruff_cache
