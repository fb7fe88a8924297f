# The four commands of the README. Each makes .venv and installs when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WITH_REDIS := $(PYTHON) scripts/with_redis.py

.PHONY: run test demo bench lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "distributor needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/distributor db upgrade
	$(WITH_REDIS) $(BIN)/python scripts/run_all.py

test: $(STAMP)
	$(BIN)/lint-imports --no-cache --show-timings >/dev/null || $(BIN)/lint-imports --no-cache
	$(WITH_REDIS) $(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(WITH_REDIS) $(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(WITH_REDIS) $(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var .demo .pytest_cache
