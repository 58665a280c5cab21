#!/usr/bin/env bash
# The main job on the embedded defaults (synthetic signs, SQLite, CPU): build the negative-image study,
# train mvgg8, predict, import into SQLite and serve it. Extra arguments go to `python -m workflow run`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
exec python -m workflow run "$@"
