# Two commands for a fresh machine: `make demo` and `make test`. Each builds .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Real servers and tools the tests start (each feature adds its own): installed by `make test` when missing.
DEBIAN_PACKAGES := redis-server postgresql chromium chromium-driver

.PHONY: demo test test-fast lint bench venv clean debian-packages compat compat-latest airflow docs docs-tables screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip uv

$(STAMP): $(PY) pyproject.toml
	$(UV) pip install --python $(PY) --quiet -e ".[test,bench,lint,docs]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

venv: $(STAMP)

# `make demo` needs the package alone (Airflow, the sandbox, JSONL on file://): not the test, bench, lint or docs
# extras, which a full venv (make venv, make test) has anyway
DEMO_STAMP := $(VENV)/.demo-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(DEMO_STAMP): $(PY) pyproject.toml
	$(UV) pip install --python $(PY) --quiet -e .
	rm -f $(VENV)/.demo-installed-*; touch $(DEMO_STAMP)

debian-packages:
	@[ -z "$(strip $(DEBIAN_PACKAGES))" ] || bash scripts/ensure-debian-packages.sh $(DEBIAN_PACKAGES)

# Two lanes side by side (see tests/conftest.py), the ten slowest tests listed at the end. pytest's exit code is
# kept; 5 means it collected no test at all, which is a failure too.
PYTEST_LANES := -n 2 --no-loadscope-reorder --durations=10

test: $(STAMP) debian-packages
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(PYTEST_LANES) $(PYTEST_ARGS); code=$$?; \
	[ $$code -ne 5 ] || echo "make test: pytest collected no tests (exit 5)" >&2; exit $$code

test-fast: $(STAMP) debian-packages
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest tests/unit -m unit $(PYTEST_ARGS)

# ruff (lint, then format) over the whole repository, mypy (strict on client/ and output/, its defaults on
# the rest of the package and the tests' toolkit) and import-linter's layering contracts, as configured in
# pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

demo: $(DEMO_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/demo.py

bench: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) benchmarks/run.py $(SECTIONS)

# Airflow's UI with the sandbox as longport_default and the example DAGs; prints the URL and the login. PORT=8080
airflow: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PORT="$(PORT)" $(PY) scripts/airflow_ui.py

# One venv per Airflow 3 minor x Python (in .compat/), the real-Airflow slice of the suite in each; CELLS="3.0-3.11 ..."
# Each installs its known-good resolution (scripts/compat-constraints/); compat-latest installs today's releases and
# names the library when one of them breaks a cell
compat: $(STAMP)
	$(PY) scripts/compat.py $(CELLS)

compat-latest: $(STAMP)
	$(PY) scripts/compat.py --latest $(CELLS)

# The documentation site into site/; --strict: a broken link, anchor or API reference fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The tables generated from the code, written into the pages between their markers (a test fails when one is stale)
docs-tables: $(STAMP)
	$(PY) docs/_gen/hooks.py

# The connection form and Test screenshots in docs/img/ui/, taken by the browser test in headless Chromium
screenshots: $(STAMP) debian-packages
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CASHFLOW_DOCS_SCREENSHOTS="$(CURDIR)/docs/img/ui" \
		$(PY) -m pytest tests/e2e/test_ui_browser.py -x -q

clean:
	rm -rf $(VENV) .demo .pytest_cache .compat .airflow site
