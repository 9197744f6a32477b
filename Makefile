# The commands of README.md. Each one is idempotent.
SHELL := /bin/bash
ENV := source .local/env.sh

.PHONY: setup test demo airflow down lock bench lint

setup:
	@scripts/setup.sh

test: setup
	@$(ENV) && pytest $(PYTEST_ARGS)

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
