"""The fooling-images section (Nguyen et al. 2015): rates against chance and "none", and the contact sheet.

The statistics are analysis.stats.fooling's; this module draws and presents them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis.inputs.load import StimulusSetInfo
from analysis.render.document import Block, FigureBlock, Paragraph, Table, not_applicable
from analysis.render.style import CHANCE_STYLE, legend_outside, model_colour, new_figure, new_grid
from analysis.sections.base import Context, Section
from analysis.stats.fooling import FoolingResult, fooling_analysis


def rates_figure(result: FoolingResult) -> Figure:
    """Per condition: share choosing the network's class and share answering "none" (95% CIs), chance line."""
    r = result.rates
    x = np.arange(len(r))
    fig, ax = new_figure(1.6 + 1.0 * len(r), 3.0)
    for k, (col, lo, hi, name) in enumerate(
        (
            ("rate", "ci_low", "ci_high", "network's class"),
            ("none_rate", "none_ci_low", "none_ci_high", '"none"'),
        )
    ):
        err = np.vstack([r[col] - r[lo], r[hi] - r[col]])
        ax.bar(x + (k - 0.5) * 0.38, r[col], 0.38, yerr=err, capsize=3, color=model_colour(k),
               label=f"people chose {name}")  # fmt: skip
    ax.axhline(1.0 / result.n_classes, **CHANCE_STYLE, label="chance (1/classes)")
    ax.set_xticks(x, r["condition"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of trials")
    legend_outside(ax)
    return fig


PANEL_IN = 1.9
"""A contact-sheet panel's width in inches; its title wraps to what 8-pt text fits in it."""
TITLE_CHARS = 30
"""Characters of 8-pt text per title line in a panel (1.9 in is 137 pt; a character is about 4.4 pt)."""
LINE_IN = 8 * 1.25 / 72
"""One 8-pt title line, in inches."""


def panel_title(condition: str, label: str, confidence: float, people: str) -> str:
    """A panel's title with the full class names, wrapped to the panel's width (never cut)."""
    lines = [condition]
    lines += textwrap.wrap(f"net: {label} ({confidence:.4f})", TITLE_CHARS, break_on_hyphens=False)
    lines += textwrap.wrap(f"people: {people}", TITLE_CHARS, break_on_hyphens=False)
    return "\n".join(lines)


def contact_sheet_figure(result: FoolingResult, info: StimulusSetInfo, *, max_images: int = 90) -> Figure:
    """The images with the network's label and confidence and people's most frequent answer."""
    from PIL import Image

    imgs = result.images.head(max_images)
    titles = [
        panel_title(
            str(r.condition),
            str(r.network_label_name),
            float(r.network_confidence),
            f"{r.top_answer} ({r.top_answer_share:.0%} of {r.n_answers})" if r.n_answers else "no answers",
        )
        for r in imgs.itertuples()
    ]
    cols = min(10, max(1, len(imgs)))
    rows = -(-len(imgs) // cols)
    lines = max((t.count("\n") + 1 for t in titles), default=1)
    fig, axes = new_grid(PANEL_IN * cols, (1.7 + LINE_IN * lines) * rows + 0.3, ncols=cols, nrows=rows)
    for ax in axes:
        ax.axis("off")
    for ax, r, title in zip(axes, imgs.itertuples(), titles, strict=False):
        with Image.open(Path(info.root) / "images" / f"{r.stimulus_id}.png") as im:
            arr = np.asarray(im.convert("RGB"))
        ax.imshow(arr, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    return fig


def compute(ctx: Context, _: dict[str, Any]) -> FoolingResult | None:
    """The report section's statistics (None unless the set holds fooling images)."""
    if ctx.responses is None:
        return None
    return fooling_analysis(ctx.kept, ctx.responses, ctx.table.stimuli)


def present(result: FoolingResult | None, ctx: Context) -> list[Block]:
    """The section's blocks: the summary sentence, tables and the two figures."""
    if result is None:
        return not_applicable("Fooling images")
    all_ = result.rates[result.rates["condition"] == "all"].iloc[0]
    return [
        Paragraph(
            f"The label of a fooling image is the class the network assigns. People chose that class on "
            f"{int(all_['chose_network_class'])} of {int(all_['n_trials'])} trials "
            f"({all_['rate']:.3f}, 95% CI {all_['ci_low']:.3f}-{all_['ci_high']:.3f}; chance "
            f"{all_['chance']:.3f}, one-sided exact binomial p = {all_['p_vs_chance']:.3g}) and answered "
            f'"none of these" on {int(all_["none"])} ({all_["none_rate"]:.3f}); network class vs none, '
            f"exact binomial p = {all_['p_class_vs_none']:.3g}. Intervals and tests treat trials as "
            "independent."
        ),
        Table(
            "fooling_rates",
            result.rates,
            "How often people chose the network's class, against chance and their 'none' rate.",
        ),
        Table("fooling_network", result.network, "The network's confidence on the fooling images."),
        FigureBlock(
            "fooling_rates_plot",
            rates_figure(result),
            "Share of trials on which people chose the network's class and on which they answered 'none', "
            "per condition and over all conditions ('all'), with 95% Wilson intervals; dashed: chance "
            "(1 / number of classes).",
        ),
        FigureBlock(
            "fooling_contact_sheet",
            contact_sheet_figure(result, ctx.table.stimuli),
            "Fooling images (at most 90; every one is in tables/fooling_images.csv). Each title: the "
            "condition; the network's class and its confidence; people's most frequent answer, with its "
            "share of the image's answers and their number.",
        ),
        Table(
            "fooling_images",
            result.images,
            "One row per image: network label and confidence, people's most frequent answer.",
        ),
    ]


SECTION = Section("fooling", "7b. Fooling images (Nguyen et al. 2015)", compute, present)
