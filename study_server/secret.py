"""The app secret: signs sessions and CSRF tokens and keys the export pseudonyms.

It comes from env STUDY_SECRET_KEY. In development, when it is missing, one is generated once and kept
in the instance folder (mode 0600) so sessions and pseudonyms survive restarts. It is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret_key"
MIN_SECRET_BYTES = 32


class WeakSecretError(ValueError):
    """The configured secret key is too short to sign sessions and key the export pseudonyms."""


def check_secret_strength(key: str | bytes, *, lenient: bool = False) -> None:
    """Refuse a secret under 32 bytes (e.g. "dev"), except in debug or testing, where it is allowed.

    A short key lets anyone forge admin sessions and reverse the pseudonyms by brute force.
    """
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) >= MIN_SECRET_BYTES or lenient:
        return
    raise WeakSecretError(
        f"STUDY_SECRET_KEY is too short ({len(raw)} bytes; at least {MIN_SECRET_BYTES} are needed). "
        'Generate one with: python -c "import secrets; print(secrets.token_hex(32))", '
        "or unset it to have one generated and kept in the instance folder."
    )


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
