"""One figure look for every plot of the report: colour-blind-safe colours, readable fonts, legends outside.

The palette is Okabe & Ito's (2008, "Color Universal Design"), which stays distinguishable for the
common colour-vision deficiencies; sequential and diverging maps are viridis and RdBu (both CVD-safe).
Fonts are at least 8 pt at the printed size, the smallest most journals accept. Every figure is made
with :func:`new_figure` (no pyplot, no global state) and written by :func:`figure_bytes`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

# Okabe & Ito (2008): black first for humans, then the seven colours in their published order.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
HUMAN_COLOUR = OKABE_ITO[0]
MODEL_COLOURS = OKABE_ITO[1:]
CHANCE_STYLE: dict[str, Any] = {"color": "#777777", "lw": 1.0, "ls": "--"}
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"
PNG_DPI = 300

RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(MODEL_COLOURS)),
    "svg.fonttype": "none",  # text stays text in SVG (searchable, editable)
    "pdf.fonttype": 42,  # TrueType in PDF, as journals ask
    "figure.dpi": 100,
}


@contextmanager
def journal_style() -> Iterator[None]:
    """Apply the report's rcParams while figures are built and saved."""
    with mpl.rc_context(RC):
        yield


P = ParamSpec("P")
R = TypeVar("R")


def styled(plot: Callable[P, R]) -> Callable[P, R]:
    """Build a whole figure (legends and colourbars included) under the report's rcParams."""

    @functools.wraps(plot)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with journal_style():
            return plot(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A one-panel figure on the Agg canvas (no pyplot, no GUI backend) with the report's style."""
    fig, axes = new_grid(width, height)
    return fig, axes[0]


def new_grid(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure of `nrows` x `ncols` panels, as :func:`new_figure`; the axes in row-major order."""
    with journal_style():
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def model_colour(index: int) -> str:
    return MODEL_COLOURS[index % len(MODEL_COLOURS)]


def legend_outside(ax: Axes, *, below: bool = False, **kwargs: object) -> None:
    """Legend to the right of (or below) the axes, never over the data."""
    handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return
    if below:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), borderaxespad=0.0, **kwargs)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def figure_bytes(fig: Figure, fmt: str = "svg") -> bytes:
    """SVG (vector) or 300-dpi PNG of a figure, with the report's style applied while drawing."""
    cache: dict[str, bytes] = fig.__dict__.setdefault("_report_bytes", {})  # HTML, files and PDF share one
    if fmt not in cache:
        buf = io.BytesIO()
        with journal_style():
            fig.savefig(buf, format=fmt, dpi=PNG_DPI if fmt == "png" else None, bbox_inches="tight")
        cache[fmt] = buf.getvalue()
    return cache[fmt]


__all__ = [
    "CHANCE_STYLE",
    "DIVERGING_CMAP",
    "HUMAN_COLOUR",
    "OKABE_ITO",
    "SEQUENTIAL_CMAP",
    "figure_bytes",
    "journal_style",
    "legend_outside",
    "model_colour",
    "new_figure",
    "new_grid",
    "styled",
]
