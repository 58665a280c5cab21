"""The app secret: signs sessions and CSRF tokens and keys the export pseudonyms.

It comes from env STUDY_SECRET_KEY. In development, when it is missing, one is generated once and kept
in the instance folder (mode 0600) so sessions and pseudonyms survive restarts. It is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret_key"


def load_or_create_secret(instance_path: str | Path) -> str:
    path = Path(instance_path) / SECRET_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return key
