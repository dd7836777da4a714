# Everything creates its own environment: a fresh clone needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: report test test-slow chromium catalogue audit docs lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## The main job: every claim (C1-C18) tested, the report in report/index.html.
report: $(STAMP)
	$(VENV)/bin/actlab report -o report

## The test suite (what CI runs): lint, then the tests not marked slow.
test: $(STAMP) chromium
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(PY) -m pytest -q -m "not slow" src tests

## The report's browser test needs Debian's chromium: install it where it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the report's browser test"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	  else echo "no chromium and no apt-get: the browser test will be skipped"; fi; \
	fi

## Slow tests: full-range numerics sweeps and the like.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow tests

## The catalogue table and the numerics audit.
catalogue: $(STAMP)
	$(VENV)/bin/actlab list
	$(VENV)/bin/actlab audit

## Regenerate docs/numerics.md.
audit: $(STAMP)
	$(PY) tools/numerics_audit.py --markdown docs/numerics.md

## Regenerate every generated document: numerics, properties (with costs) and the gallery.
docs: audit
	$(PY) tools/properties_table.py -o docs/properties.md --cost
	$(VENV)/bin/actlab plot --all -o docs/gallery

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache report
