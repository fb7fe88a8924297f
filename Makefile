# The four commands of the README. Each makes .venv and installs when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
WITH_REDIS := $(PYTHON) scripts/with_redis.py

.PHONY: run test prove demo bench bench-scale lint clean

# run and demo install only what the service needs; test, bench and lint add the test tools.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "distributor needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/distributor db upgrade
	$(WITH_REDIS) $(BIN)/python scripts/run_all.py

test: $(TEST_STAMP)
	$(BIN)/lint-imports --no-cache --show-timings >/dev/null || $(BIN)/lint-imports --no-cache
	$(WITH_REDIS) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Each safety mechanism switched off in turn: the test that catches it, or exit 1.
prove: $(TEST_STAMP)
	$(WITH_REDIS) $(BIN)/python scripts/prove.py $(PROVE_ARGS)

demo: $(STAMP)
	$(WITH_REDIS) $(BIN)/python scripts/demo.py

bench: $(TEST_STAMP)
	$(WITH_REDIS) $(BIN)/python -m bench $(BENCH_ARGS)

# A million readers on the local PostgreSQL (bench/scale.py); takes about half an hour.
bench-scale: $(TEST_STAMP)
	$(WITH_REDIS) $(BIN)/python -m bench --scale $(BENCH_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var .demo .pytest_cache
