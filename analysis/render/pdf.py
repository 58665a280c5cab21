"""The PDF is the HTML report printed by Chromium, so it holds every column of every table.

Chromium lays the page out with the report's print CSS (A4; landscape pages for wide tables; wrapped
cells), the way a browser prints, instead of a second renderer that would have to re-implement
tables. The browser is the one the project already drives for its browser tests: ``STUDY_CHROMIUM``,
else ``chromium`` on the PATH. Without one the report says the PDF was skipped and the HTML stands.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PRINT_TIMEOUT_S = 180


def find_chromium() -> str | None:
    """The Chromium to print with: STUDY_CHROMIUM if set, else chromium on the PATH; None if neither."""
    named = os.environ.get("STUDY_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class PdfError(RuntimeError):
    """Chromium ran but wrote no PDF (its last stderr line says why)."""


def print_pdf(html_path: Path, pdf_path: Path, chromium: str) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (a fresh profile, no network)."""
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path.resolve()}",
            html_path.resolve().as_uri(),
        ]
        pdf_path.unlink(missing_ok=True)
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False)
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        last = (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]
        raise PdfError(f"Chromium wrote no PDF: {last}")
    return pdf_path
