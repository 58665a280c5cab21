"""Report figures in the journal style of analysis.render.style. Each function takes typed results and
returns a matplotlib Figure (no pyplot); renderers decide whether it becomes SVG, PNG or a PDF page.

Every accuracy axis carries the chance level; every legend sits outside the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from analysis.render.style import (
    CHANCE_STYLE,
    DIVERGING_CMAP,
    HUMAN_COLOUR,
    SEQUENTIAL_CMAP,
    legend_outside,
    model_colour,
    new_figure,
    new_grid,
    styled,
)
from analysis.stats.psychometric import PsychometricFit

CEILING_COLOUR = "#F0E442"  # Okabe-Ito yellow: not on the RdBu scale
TOO_FEW_COLOUR = "#BBBBBB"


def short_class(names: dict[int, str], c: int, width: int = 24) -> str:
    name = names.get(int(c), str(c))
    return f"{c}: {name if len(name) <= width else name[: width - 1] + '…'}"


def _chance(ax: Axes, chance: float | None) -> None:
    if chance is not None:
        ax.axhline(chance, **CHANCE_STYLE, label=f"chance ({chance:.3f})", zorder=0)


@styled
def accuracy_plot(acc: pd.DataFrame, runs: pd.DataFrame, chance: float | None) -> Figure:
    """Pooled humans (Wilson 95% CI) and each model (mean over runs; dots = individual runs)."""
    humans = acc[acc["agent_type"] == "humans"]
    conds = sorted(acc.loc[acc["agent_type"] != "human", "condition"].unique())
    groups = list(dict.fromkeys(runs["model"])) if len(runs) else []
    series = (["humans"] if len(humans) else []) + groups
    fig, ax = new_figure(max(4.5, 0.9 * len(conds) * max(1, len(series)) / 2 + 3), 3.2)
    width = 0.8 / max(1, len(series))
    x0 = np.arange(len(conds))
    run_dots_labelled = False
    for i, name in enumerate(series):
        xs = x0 + i * width - 0.4 + width / 2
        if name == "humans":
            g = humans.set_index("condition").reindex(conds)
            err = np.clip(np.vstack([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]]), 0, None)
            ax.bar(
                xs,
                g["accuracy"],
                width,
                yerr=err,
                capsize=2,
                color=HUMAN_COLOUR,
                label="humans (pooled)",
                error_kw={"lw": 0.8},
            )
            continue
        colour = model_colour(i - (1 if len(humans) else 0))
        r = runs[runs["model"] == name]
        means = r.groupby("condition")["accuracy"].mean().reindex(conds)
        n_runs = r["run"].nunique()
        label = f"{name} ({n_runs} run{'s' if n_runs != 1 else ''})"
        ax.bar(xs, means, width, color=colour, label=label)
        if n_runs > 1:
            for k, cond in enumerate(conds):
                vals = r.loc[r["condition"] == cond, "accuracy"].to_numpy()
                jitter = np.linspace(-width / 4, width / 4, len(vals)) if len(vals) > 1 else np.zeros(1)
                ax.scatter(
                    xs[k] + jitter,
                    vals,
                    s=8,
                    color="white",
                    edgecolor="black",
                    lw=0.6,
                    zorder=3,
                    label=None if run_dots_labelled else "one training run",
                )
                run_dots_labelled = True
    _chance(ax, chance)
    ax.set_xticks(x0, conds, rotation=20, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion correct")
    legend_outside(ax)
    return fig


@styled
def participant_dots(
    per: pd.DataFrame, summary: pd.DataFrame, runs: pd.DataFrame, chance: float | None
) -> Figure:
    """One dot per participant per condition, the participants' mean with a 95% CI, and model runs."""
    conds = sorted(per["condition"].unique())
    fig, ax = new_figure(max(4.5, 1.1 * len(conds) + 2.5), 3.2)
    rng = np.random.default_rng(0)  # jitter only: the same figure on every run
    for k, cond in enumerate(conds):
        vals = per.loc[per["condition"] == cond, "accuracy"].to_numpy()
        ax.scatter(
            k - 0.12 + rng.uniform(-0.08, 0.08, len(vals)),
            vals,
            s=10,
            color="#999999",
            edgecolor="none",
            label="participant" if k == 0 else None,
            zorder=2,
        )
        s = summary[summary["condition"] == cond]
        if len(s):
            m, lo, hi = (float(s[c].iloc[0]) for c in ("mean", "ci_low", "ci_high"))
            ax.errorbar(
                k + 0.02,
                m,
                yerr=[[m - lo], [hi - m]],
                fmt="o",
                color=HUMAN_COLOUR,
                ms=4,
                capsize=2,
                label="participants' mean (95% CI)" if k == 0 else None,
                zorder=3,
            )
    if len(runs):
        for i, (name, r) in enumerate(runs.groupby("model", sort=False)):
            for k, cond in enumerate(conds):
                vals = r.loc[r["condition"] == cond, "accuracy"].to_numpy()
                ax.scatter(
                    np.full(len(vals), k + 0.18 + 0.06 * i),
                    vals,
                    marker="D",
                    s=14,
                    color=model_colour(i),
                    label=f"{name} (each run)" if k == 0 else None,
                    zorder=3,
                )
    _chance(ax, chance)
    ax.set_xticks(range(len(conds)), conds, rotation=20, ha="right")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("proportion correct")
    legend_outside(ax)
    return fig


@styled
def confusion_plot(mat: np.ndarray, class_names: dict[int, str], title: str, top: pd.DataFrame) -> Figure:
    """Row-normalised confusions with class names; the top confusions are outlined and listed."""
    rows = mat.sum(axis=1, keepdims=True)
    norm = np.divide(mat, rows, out=np.zeros(mat.shape, float), where=rows > 0)
    k = mat.shape[0]
    side = max(3.5, min(9.0, 0.16 * k + 2.5))
    fig, ax = new_figure(side + 1.2, side)
    im = ax.imshow(norm, vmin=0, vmax=1, cmap=SEQUENTIAL_CMAP, aspect="equal")
    labels = [short_class(class_names, c) for c in range(k)] + ["no valid answer"]
    fs = 8 if k <= 12 else 5
    ax.set_xticks(range(k + 1), labels, rotation=90, fontsize=fs)
    ax.set_yticks(range(k), labels[:k], fontsize=fs)
    ax.set_xlabel("answered class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    for _, r in top.iterrows():
        ax.add_patch(
            Rectangle((r["answered"] - 0.5, r["true"] - 0.5), 1, 1, fill=False, ec="#D55E00", lw=1.2)
        )
    fig.colorbar(im, ax=ax, fraction=0.04, label="share of the true class's trials")
    return fig


@styled
def consistency_heatmap(
    pairs: pd.DataFrame, condition: str, agents: list[str], ceiling_policy: str = "one"
) -> Figure:
    """Pairwise kappa in one condition; ceiling/floor pairs and pairs with too few shared trials apart."""
    k = len(agents)
    idx = {a: i for i, a in enumerate(agents)}
    val = np.full((k, k), np.nan)
    status = np.full((k, k), "", dtype=object)
    sub = pairs[pairs["condition"] == condition]
    for a, b, kap, st in zip(sub["agent_a"], sub["agent_b"], sub["kappa_raw"], sub["status"], strict=True):
        if a in idx and b in idx:
            for i, j in ((idx[a], idx[b]), (idx[b], idx[a])):
                val[i, j] = kap
                status[i, j] = st
    side = max(3.2, min(8.0, 0.18 * k + 2.2))
    fig, ax = new_figure(side + 2.2, side)
    im = ax.imshow(np.where(status == "ok", val, np.nan), vmin=-1, vmax=1, cmap=DIVERGING_CMAP)
    ax.set_facecolor("white")
    for (i, j), st in np.ndenumerate(status):
        if st in ("ceiling", "floor"):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=CEILING_COLOUR, lw=0))
            if st == "floor":
                ax.text(j, i, "F", ha="center", va="center", fontsize=5)
        elif st == "too_few_shared":
            ax.add_patch(
                Rectangle((j - 0.5, i - 0.5), 1, 1, fc=TOO_FEW_COLOUR, ec="white", lw=0.2, hatch="////")
            )
    for i in range(k):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, color="#444444", lw=0))
    if k <= 40:
        fs = 8 if k <= 12 else 5
        ax.set_xticks(range(k), agents, rotation=90, fontsize=fs)
        ax.set_yticks(range(k), agents, fontsize=fs)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{k} agents (order as in tables/error_consistency_pairs.csv)")
    ax.set_title(f"error consistency (kappa), {condition}")
    fig.colorbar(im, ax=ax, fraction=0.04, label="kappa (defined pairs)")
    counted = "counted as 1 (convention)" if ceiling_policy == "one" else "left out"
    handles = [
        Patch(
            color=CEILING_COLOUR,
            label=f"ceiling: both all correct (F: floor, both all wrong);\nkappa undefined, {counted}",
        ),
        Patch(fc=TOO_FEW_COLOUR, hatch="////", ec="white", label="too few shared trials"),
        Patch(color="#444444", label="same agent"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=1, frameon=False)
    return fig


@styled
def kappa_summary_plot(summary: pd.DataFrame) -> Figure:
    """Mean kappa with its bootstrap 95% CI per condition: human-human and each model vs humans."""
    summary = summary[summary["comparison"] != "model-model"]  # pairs of runs: in the table only
    conds = sorted(summary["condition"].unique())
    series = list(dict.fromkeys(zip(summary["comparison"], summary["agent_b"], strict=True)))
    fig, ax = new_figure(max(4.5, 1.0 * len(conds) + 3), 3.0)
    model_names = list(dict.fromkeys(b for kind, b in series if kind == "human-model"))
    for i, (kind, b) in enumerate(series):
        s = summary[(summary["comparison"] == kind) & (summary["agent_b"] == b)].set_index("condition")
        s = s.reindex(conds)
        xs = np.arange(len(conds)) + (i - (len(series) - 1) / 2) * 0.12
        err = np.vstack([s["kappa"] - s["kappa_ci_low"], s["kappa_ci_high"] - s["kappa"]])
        if kind == "human-human":
            colour = HUMAN_COLOUR
        elif kind == "human-model":
            colour = model_colour(model_names.index(b))
        else:
            colour = "#777777"
        label = "human-human" if kind == "human-human" else f"{kind}: {b}"
        ax.errorbar(
            xs,
            s["kappa"],
            yerr=np.nan_to_num(np.clip(err, 0, None)),
            fmt="o",
            ms=4,
            capsize=2,
            color=colour,
            label=label,
        )
    ax.axhline(0, **CHANCE_STYLE, label="no consistency beyond chance (kappa 0)")
    ax.set_xticks(range(len(conds)), conds, rotation=20, ha="right")
    low = float(np.nanmin(summary[["kappa", "kappa_ci_low"]].to_numpy(float), initial=0.0))
    ax.set_ylim(min(-0.25, low - 0.05), 1.02)
    ax.set_ylabel("error consistency (kappa)")
    legend_outside(ax)
    return fig


@styled
def rt_plot(per: pd.DataFrame, by_condition: pd.DataFrame) -> Figure:
    """Left: each participant's median RT and the group mean (95% CI); right: correct vs wrong."""
    conds = sorted(per["condition"].unique())
    fig, (a1, a2) = new_grid(7.2, 3.0, ncols=2)
    rng = np.random.default_rng(0)
    for k, cond in enumerate(conds):
        v = per.loc[per["condition"] == cond, "median_rt_ms"].to_numpy()
        a1.scatter(
            k + rng.uniform(-0.1, 0.1, len(v)),
            v,
            s=9,
            color="#999999",
            edgecolor="none",
            label="participant median" if k == 0 else None,
        )
        s = by_condition[by_condition["condition"] == cond]
        if len(s):
            m, lo, hi = (float(s[c].iloc[0]) for c in ("mean_of_median_rt_ms", "ci_low", "ci_high"))
            a1.errorbar(
                k + 0.2,
                m,
                yerr=[[m - lo], [hi - m]] if np.isfinite(lo) else None,
                fmt="o",
                color=HUMAN_COLOUR,
                ms=4,
                capsize=2,
                label="mean (95% CI)" if k == 0 else None,
            )
    a1.set_xticks(range(len(conds)), conds, rotation=20, ha="right")
    a1.set_ylabel("median RT (ms)")
    a1.set_title("RT per condition")
    for k, cond in enumerate(conds):
        g = per[per["condition"] == cond]
        for col, dx, colour, name in (
            ("median_rt_correct_ms", -0.12, "#0072B2", "correct"),
            ("median_rt_wrong_ms", 0.12, "#D55E00", "wrong"),
        ):
            v = g[col].dropna().to_numpy()
            a2.scatter(
                k + dx + rng.uniform(-0.05, 0.05, len(v)),
                v,
                s=9,
                color=colour,
                edgecolor="none",
                label=name if k == 0 else None,
            )
    a2.set_xticks(range(len(conds)), conds, rotation=20, ha="right")
    a2.set_title("correct vs wrong answers")
    legend_outside(a1, below=True, ncols=2)
    legend_outside(a2, below=True, ncols=2)
    return fig


@styled
def noise_plot(levels: pd.DataFrame, fits: list[PsychometricFit]) -> Figure:
    """Accuracy against PSNR with each agent's fitted logistic curve and its threshold."""
    fig, ax = new_figure(5.5, 3.2)
    grid = np.linspace(levels["psnr"].min(), levels["psnr"].max(), 200)
    for i, fit in enumerate(fits):
        lv = levels[levels["agent"] == fit.agent]
        colour = HUMAN_COLOUR if i == 0 and "humans" in fit.agent else model_colour(i)
        ax.plot(lv["psnr"], lv["accuracy"], "o", color=colour, ms=4, label=fit.agent)
        if np.isfinite(fit.threshold):
            ax.plot(grid, fit.predict(grid), "-", color=colour, lw=1)
            ax.axvline(fit.threshold, ls=":", color=colour, lw=0.8)
    if fits:
        _chance(ax, fits[0].chance)
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylabel("proportion correct")
    ax.set_ylim(0, 1.02)
    legend_outside(ax)
    return fig
