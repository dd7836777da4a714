# Everything creates its own environment: a fresh clone needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test test-slow catalogue audit docs lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## The test suite (what CI runs): lint, then the tests not marked slow.
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q -m "not slow" src tests

## Slow tests: full-range numerics sweeps and the like.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow tests

## The main job until the claims report exists: the catalogue table and the numerics audit.
catalogue: $(STAMP)
	$(VENV)/bin/actlab list
	$(VENV)/bin/actlab audit

## Regenerate docs/numerics.md.
audit: $(STAMP)
	$(PY) benchmarks/numerics_audit.py --markdown docs/numerics.md

## Regenerate every generated document: numerics, properties (with costs) and the gallery.
docs: audit
	$(PY) benchmarks/properties_table.py -o docs/properties.md --cost
	$(VENV)/bin/actlab plot --all -o docs/gallery

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
