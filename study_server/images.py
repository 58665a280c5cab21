"""Serve stimulus and legend images without metadata.

Images are read from the imported stimulus set's directory and re-encoded as a bare PNG (pixels only,
no text chunks, no file name), so nothing but the pixels reaches the participant.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image


@lru_cache(maxsize=4096)
def _clean_png(path: str, mtime_ns: int) -> bytes:
    with Image.open(path) as im:
        im.load()
        mode = "RGBA" if im.mode in ("RGBA", "LA", "P") and "transparency" in im.info else None
        pixels = im.convert(mode or ("L" if im.mode in ("1", "L", "I;16", "I") else "RGB"))
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def clean_png(path: Path) -> bytes:
    """The PNG at `path`, re-encoded with its pixels only (cached until the file changes)."""
    return _clean_png(str(path), path.stat().st_mtime_ns)
