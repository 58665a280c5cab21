#!/usr/bin/env bash
# Create .venv and install the project into it; sourced by main.sh and test.sh.
# Re-running is cheap: the install is redone only when pyproject.toml changes.
set -euo pipefail
VENV="${STUDY_VENV:-.venv}"
PY=python3
command -v python3.11 >/dev/null 2>&1 && PY=python3.11
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install --upgrade pip
  if ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
    # These pins are the builds that lie on this workplace's disk for Python 3.11.
    case "$(uname -m)" in
      aarch64|arm64) "$VENV/bin/python" -m pip install torch==2.9.1 torchvision==0.24.1 ;;
      *) "$VENV/bin/python" -m pip install torch==2.14.1 torchvision==0.29.1 ;;
    esac
  fi
  "$VENV/bin/python" -m pip install -e ".[dev,postgres]"
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
