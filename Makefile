# Two commands on a fresh machine (Python >= 3.11, make, gcc): `make demo` and `make test`.
# The virtual environment is created and filled here; nothing is installed by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := demo-data

.PHONY: install demo demo-pg web test test-pg lint format lock clean

$(STAMP): pyproject.toml requirements.lock src/ncii_shield/index/_pdq_mih.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The main job on the bundled demo data, in a fresh encrypted data directory each time. The demo's key
# file sits beside it for convenience; a real deployment keeps its key off the data disk.
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/ncii-shield --data-dir $(DEMO)/ncii-data init --generate-key-file $(DEMO)/demo.key
	NCII_KEY_FILE=$(DEMO)/demo.key $(BIN)/ncii-shield --data-dir $(DEMO)/ncii-data demo --out-dir $(DEMO)

# The same demo with its database on PostgreSQL: a server started in $(DEMO)/pg (initdb, unix socket
# only) for the run and stopped after (scripts/demo-pg.sh). Same summary and hit counts as `make demo`.
demo-pg: $(STAMP)
	BIN=$(BIN) DEMO=$(DEMO) scripts/demo-pg.sh

# The web app on the demo data (after `make demo`): http://127.0.0.1:8000/, user "demo", password printed.
web: $(STAMP)
	test -f $(DEMO)/demo.key || $(MAKE) demo
	NCII_KEY_FILE=$(DEMO)/demo.key $(BIN)/ncii-shield --data-dir $(DEMO)/ncii-data serve --demo-user

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The same suite on PostgreSQL: one throwaway server (initdb in a temporary folder, unix socket) and a
# database per test data directory (tests/pgsite/ncii_test_pg.py). Needs Debian's postgresql package.
test-pg: $(STAMP)
	NCII_TEST_DATABASE=postgresql $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
