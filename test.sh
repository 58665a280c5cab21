#!/usr/bin/env bash
# The test command: sets everything up on a fresh machine, then lints and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
eval "$(bash scripts/services.sh)"
ruff check .
ruff format --check .
mypy
python -m pytest "$@"
