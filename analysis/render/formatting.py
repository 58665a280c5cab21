"""How numbers and names appear in every rendered form of the report (HTML, Markdown, PDF, stdout)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def fmt(v: object, col: str = "") -> str:
    """Numbers as a reader wants them: p-values with 3 significant digits, others with 3 decimals."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            return "–"
        if col.startswith("p_") or col.endswith("p_value"):
            # below 1e-15 a normal-tail p-value says nothing more (and underflows to 0)
            return "< 1e-15" if float(v) < 1e-15 else f"{float(v):.3g}"
        if float(v).is_integer() and abs(float(v)) < 1e6 and not col.startswith(("kappa", "acc", "c_")):
            return str(int(v))
        return f"{float(v) + 0.0:.3f}".replace("-0.000", "0.000")  # no negative zero
    if isinstance(v, np.integer):
        return str(int(v))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def formatted_rows(df: pd.DataFrame) -> list[list[str]]:
    return [[fmt(v, str(c)) for c, v in row.items()] for _, row in df.iterrows()]
