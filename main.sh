#!/usr/bin/env bash
# The main job on the embedded defaults (synthetic signs, SQLite, CPU).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
python -m stimuli build --preset negative --out artifacts/negative_study "$@"
python -m stimuli validate artifacts/negative_study
