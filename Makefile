# The commands of README.md. Each one is idempotent.
SHELL := /bin/bash
ENV := source .local/env.sh

.PHONY: setup test test-fast demo airflow down lock bench lint

setup:
	@scripts/setup.sh

# Test processes side by side (pytest-xdist; tests/conftest.py gives each its own databases): most
# tests wait on the fakes' clocks, Airflow's loops or subprocesses. PYTEST_ARGS may override, e.g. -n 0.
TEST_WORKERS ?= 2
XDIST := --dist loadgroup --no-loadscope-reorder

# The whole suite, with the slowest tests listed at the end.
test: setup
	@$(ENV) && pytest -n $(TEST_WORKERS) $(XDIST) --durations=0 --durations-min=10 $(PYTEST_ARGS)

# The fast tier: no Airflow component started, no DAG run (tests/conftest.py marks every test). One worker
# more than the suite: with no Airflow stack to crowd, a third fills the time the others wait on the fakes
# (4:42 with two workers, 3:59 with three, on 2 cores).
FAST_TEST_WORKERS ?= 3
test-fast: setup
	@$(ENV) && pytest -n $(FAST_TEST_WORKERS) $(XDIST) -m fast --durations=15 $(PYTEST_ARGS)

demo: setup
	@$(ENV) && scripts/demo.sh

airflow: setup
	@$(ENV) && scripts/airflow.sh start

down:
	@scripts/down.sh

# ruff over the whole tree, as configured in pyproject.toml; needs only the .venv (set up once if missing).
lint:
	@test -x .venv/bin/ruff || scripts/setup.sh
	@.venv/bin/ruff check .

# Re-resolve requirements.in into the pinned requirements.txt (needs .local/uv from make setup).
lock:
	@.local/uv/bin/uv pip compile -q --python-version 3.11 requirements.in -o requirements.txt
