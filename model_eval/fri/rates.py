"""FRI rate against region size, drawn as Srivastava et al. 2019 draw it (their Figure 5 for shrink FRIs,
Figure A.1 for shift FRIs): the percentage of regions that are FRIs, per region size, one line per
network, loose and strict side by side."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from model_eval.fri.maps import FRI_KINDS


def fri_rates(fractions: pd.DataFrame) -> pd.DataFrame:
    """Mean FRI percentage per (network, ratio) over images, from per-image ``fri_fractions`` rows
    (a ``model`` column names the network); one column per FRI type."""
    rates = fractions.groupby(["model", "ratio"])[list(FRI_KINDS)].mean() * 100
    images = fractions.groupby(["model", "ratio"]).size().rename("images")
    return rates.join(images).reset_index().rename(columns={"model": "network"})


def plot_fri_rates(rates: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Four panels (shrink / shift x loose / strict), FRI % against region size, a line per network."""
    path = Path(path)
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True, squeeze=False)
    panels = (
        ("loose_shrink", "loose shrink (Fig. 5a)"),
        ("strict_shrink", "strict shrink (Fig. 5b)"),
        ("loose_shift", "loose shift (Fig. A.1a)"),
        ("strict_shift", "strict shift (Fig. A.1b)"),
    )
    for ax, (column, label) in zip(axes.flat, panels, strict=True):
        for network, d in rates.groupby("network", sort=False):
            d = d.sort_values("ratio")
            ax.plot(d["ratio"], d[column], "o-", ms=4, label=str(network))
        ax.set_title(label, fontsize=10)
        ax.set_ylabel("FRIs (% of regions)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("region side / image side")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or "FRI rate against region size", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
