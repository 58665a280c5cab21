"""Render an FRI-pair analysis: the paper's figure (human gap against network gap) and an HTML fragment."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.fri_pairs import FriPairsResult


def gap_figure(result: FriPairsResult) -> bytes:
    """One point per pair: the network's confidence gap (x) against the human accuracy gap (y), FRI - partner.

    Vertical bars are the pairs' 95% Newcombe intervals; the dotted line is y = x (people as fragile as the
    network), the grey lines are zero (people not fragile at all).
    """
    fig = Figure(figsize=(5.2, 4.4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    pairs = result.pairs
    markers = {"shift": "o", "shrink": "s"}
    for (model, kind), g in pairs.groupby(["model", "fri_kind"], dropna=False):
        err = np.vstack([g["human_gap"] - g["human_gap_low"], g["human_gap_high"] - g["human_gap"]])
        ax.errorbar(
            g["model_gap"],
            g["human_gap"],
            yerr=np.nan_to_num(err),
            fmt=markers.get(str(kind), "o"),
            ms=5,
            capsize=2,
            lw=0.8,
            alpha=0.85,
            label=f"{model} ({kind})",
        )
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    ax.plot([-1, 1], [-1, 1], ":", color="black", lw=0.8)
    ax.set_xlim(min(-0.05, float(pairs["model_gap"].min()) - 0.05), 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("network confidence gap: p(true) on FRI - on partner")
    ax.set_ylabel("human accuracy gap: FRI - partner")
    title = "FRI pairs" + (f" (answers among {result.groups})" if result.groups else "")
    for p in result.pooled:
        ci = f"[{p.human_gap_low:+.3f}, {p.human_gap_high:+.3f}]"
        title += f"\n{p.model}: pooled human gap {p.human_gap:+.3f} {ci}"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


POOLED_CAPTION = (
    "Pooled over pairs: human accuracy on FRI and partner crops, their difference (linear-probability GEE "
    "clustered on participant, robust 95% CI), the network's mean confidence gap (t 95% CI over pairs) and "
    "Spearman's rho between the two gaps."
)
PAIRS_CAPTION = (
    "Per pair: human accuracy on each crop (different people), the gap with Newcombe's 95% interval, and the "
    "network's correctness and p(true) on each crop. Gaps are FRI minus partner for both."
)


def render_html(result: FriPairsResult) -> tuple[str, bytes]:
    """(HTML fragment, figure PNG) of the analysis, for a report that embeds sections as HTML."""
    png = gap_figure(result)
    data = base64.b64encode(png).decode("ascii")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    fragment = (
        "<section class='fri-pairs'><h2>Fragile recognition image pairs</h2>"
        f"<p>{html.escape(POOLED_CAPTION)}</p>"
        + result.pooled_frame().to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
        + (f"<ul>{notes}</ul>" if notes else "")
        + f"<figure><img alt='human gap against network gap' src='data:image/png;base64,{data}'>"
        "<figcaption>Human accuracy gap against network confidence gap, one point per pair."
        "</figcaption></figure>"
        f"<p>{html.escape(PAIRS_CAPTION)}</p>"
        + result.pairs.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
        + "</section>"
    )
    return fragment, png
