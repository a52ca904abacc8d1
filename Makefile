# The two commands of the README: `make test` (everything CI runs) and, later, `make demo`.
.PHONY: setup test lint unit

setup:
	bash scripts/setup

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

unit: setup
	.venv/bin/pytest -q

test: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/pytest -q
