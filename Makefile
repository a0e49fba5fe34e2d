# Two commands do all set-up on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "kaquan needs Python 3.11+ (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Migrate the embedded SQLite database, create the owner (printed once), load demo data, serve :8000.
# KAQUAN_DEMO=0 skips the demo data.
run: install
	$(BIN)/kaquan setup $(if $(filter 0,$(KAQUAN_DEMO)),--no-demo,--demo)
	$(BIN)/kaquan serve

test: install lint
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench

format: install
	$(BIN)/ruff check --fix src tests migrations bench
	$(BIN)/ruff format src tests migrations bench

bench: install
	$(BIN)/python -m bench.login
	$(BIN)/python -m bench.allocation
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.api_orders

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
