# The README's commands. Everything runs from a project-local virtualenv that these targets create.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: test run bench load lint fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

run: $(STAMP)
	$(BIN)/python -m service.devstack

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

# A loopback load scenario against a stack it starts itself (60 s; `make load ARGS="--duration 300"`).
load: $(STAMP)
	$(BIN)/python -m tests.load $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Regenerates tests/fixtures/*.json from R (needs r-cran-mixtools r-cran-mclust; CI does not).
fixtures:
	Rscript tests/fixtures/make_fixtures.R tests/fixtures

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
