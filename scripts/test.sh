#!/bin/sh
# Set up ./.venv with the test tools, then lint, type-check and run the whole test suite.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh '[test]'
sh scripts/browser-setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
