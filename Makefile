# The README's commands. Everything runs from a project-local virtualenv that these targets create.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# make test's pytest processes (pytest-xdist): a test file stays on one process, so module
# fixtures (a stack, a Redis) are built once; 2 matches the two cores the suite is sized for.
TEST_PROCESSES ?= 2

.PHONY: test run bench load chaos lint fixtures validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile

run: $(STAMP)
	$(BIN)/python -m devstack

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

# A loopback load scenario against a stack it starts itself (60 s; `make load ARGS="--duration 300"`).
load: $(STAMP)
	$(BIN)/python -m tests.load $(ARGS)

# The chaos run: that load while workers, work horses, Redis, gunicorn processes and the sweeper
# are killed at random moments, then every fit checked and rerun (300 s of load, then the rerun;
# `make chaos ARGS="--duration 600 --seed 7"`). Its short version is part of `make test`.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos $(ARGS)

# Long statistical checks against the peers (the whole fixture grid); not part of make test.
# On make test's processes: 1,386 tests in 22 min on this 2-core machine (2026-12-05).
validate: $(STAMP)
	$(BIN)/python -m pytest -m validate -n $(TEST_PROCESSES) --dist loadfile $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Regenerates tests/fixtures/*.json from R (needs r-cran-mixtools r-cran-mclust; CI does not).
fixtures:
	Rscript tests/fixtures/make_fixtures.R tests/fixtures

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
