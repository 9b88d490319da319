# Two entry points for a newcomer: `make run` and `make test` (see README). Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The service on SQLite under instance/, demo catalog loaded, one scheduler beside gunicorn.
run: install
	scripts/serve

# The whole suite on SQLite; with TEST_DATABASE_URL=postgresql+psycopg://… on a fresh PostgreSQL database.
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The suite without the tests marked slow (several seconds each: scheduler subprocesses, the big hypothesis and fuzz runs).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
