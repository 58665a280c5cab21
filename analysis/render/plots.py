"""Report figures in the journal style of analysis.render.style. Each function takes typed results and
returns a matplotlib Figure (no pyplot); renderers decide whether it becomes SVG, PNG or a PDF page.

Every accuracy axis carries the chance level; every legend sits outside the data.
"""

from __future__ import annotations

import textwrap

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
from analysis.stats.metrics import wilson_interval
from analysis.stats.psychometric import PsychometricFit

CEILING_COLOUR = "#F0E442"  # Okabe-Ito yellow: not on the RdBu scale
TOO_FEW_COLOUR = "#BBBBBB"


def _chance(ax: Axes, chance: float | None) -> None:
    if chance is not None:
        ax.axhline(chance, **CHANCE_STYLE, label=f"chance ({chance:.3f})", zorder=0)


@styled
def accuracy_plot(acc: pd.DataFrame, runs: pd.DataFrame, chance: float | None, order: list[str]) -> Figure:
    """Pooled humans and each model, every bar with its Wilson 95% interval (trials pooled over a
    model's runs); dots mark individual runs where a model has several."""
    humans = acc[acc["agent_type"] == "humans"]
    conds = [c for c in order if c in set(acc.loc[acc["agent_type"] != "human", "condition"])]
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
            k, n = (g["accuracy"] * g["n"]).to_numpy(float), g["n"].to_numpy(float)
            colour, label = HUMAN_COLOUR, "humans (pooled)"
        else:
            r = runs[runs["model"] == name]
            members = acc[(acc["agent_type"] == "model") & acc["agent"].isin(set(r["run"]))]
            g = members.assign(k=members["accuracy"] * members["n"]).groupby("condition")[["k", "n"]].sum()
            g = g.reindex(conds)
            k, n = g["k"].to_numpy(float), g["n"].to_numpy(float)
            colour = model_colour(i - (1 if len(humans) else 0))
            n_runs = r["run"].nunique()
            label = f"{name} ({n_runs} run{'s' if n_runs != 1 else ''})"
        p = np.divide(k, n, out=np.full(len(k), np.nan), where=n > 0)
        lo, hi = (np.array(v) for v in zip(*(_wilson(a, b) for a, b in zip(k, n, strict=True)), strict=True))
        err = np.clip(np.nan_to_num(np.vstack([p - lo, hi - p])), 0, None)
        ax.bar(xs, p, width, yerr=err, capsize=2, color=colour, label=label, error_kw={"lw": 0.8})
        if name != "humans" and r["run"].nunique() > 1:
            for j, cond in enumerate(conds):
                vals = r.loc[r["condition"] == cond, "accuracy"].to_numpy()
                jitter = np.linspace(-width / 4, width / 4, len(vals)) if len(vals) > 1 else np.zeros(1)
                ax.scatter(xs[j] + jitter, vals, s=8, color="white", edgecolor="black", lw=0.6, zorder=3,
                           label=None if run_dots_labelled else "one training run")  # fmt: skip
                run_dots_labelled = True
    _chance(ax, chance)
    ax.set_xticks(x0, conds, rotation=20, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion correct")
    legend_outside(ax)
    return fig


def _wilson(k: float, n: float) -> tuple[float, float]:
    if not n or not np.isfinite(n):
        return float("nan"), float("nan")
    return wilson_interval(round(k), round(n))


@styled
def participant_dots(
    per: pd.DataFrame, summary: pd.DataFrame, runs: pd.DataFrame, chance: float | None, order: list[str]
) -> Figure:
    """One dot per participant per condition, the participants' mean with a 95% CI, and model runs."""
    conds = [c for c in order if c in set(per["condition"])]
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


def class_label(names: dict[int, str], c: int) -> str:
    """A class as a reader names it: its id and full name (the id keeps equal names apart)."""
    return f"{c} {names.get(int(c), str(c))}"


def pair_label(names: dict[int, str], true: int, answered: int, width: int = 34) -> str:
    """'true → answered' with full names, wrapped rather than cut."""
    text = f"{class_label(names, true)} → {class_label(names, answered)}"
    return "\n".join(textwrap.wrap(text, width)) or text


def largest_confusions(shares: dict[str, np.ndarray], k: int, rows: int) -> list[tuple[int, int]]:
    """The (true, answered) pairs among the ``rows`` largest off-diagonal shares of any condition."""
    best: dict[tuple[int, int], float] = {}
    for mat in shares.values():
        off = mat[:, :k].copy()
        np.fill_diagonal(off, 0.0)
        for t, a in zip(*np.unravel_index(np.argsort(off, axis=None)[::-1][:rows], off.shape), strict=True):
            if off[t, a] > 0:
                best[(int(t), int(a))] = max(best.get((int(t), int(a)), 0.0), float(off[t, a]))
    return sorted(best, key=lambda ta: -best[ta])[:rows]


@styled
def confusion_changes_plot(
    shares: dict[str, np.ndarray], class_names: dict[int, str], agent: str, rows: int = 12
) -> Figure:
    """The largest confusions of one agent type and how each changes across conditions.

    ``shares``: condition (in the set's order) -> row-normalised confusion matrix (true x answered).
    One row per (true, answered) pair that is among the ``rows`` largest in any condition; one column
    per condition; each cell is the share of the true class's trials answered as that class.
    """
    conds = list(shares)
    pairs = largest_confusions(shares, len(class_names), rows)
    values = np.array([[shares[c][t, a] for c in conds] for t, a in pairs]).reshape(len(pairs), len(conds))
    labels = [pair_label(class_names, t, a) for t, a in pairs]
    fig, ax = new_figure(3.6 + 0.9 * len(conds), 0.9 + 0.32 * max(len(pairs), 2))
    vmax = max(float(np.nanmax(values, initial=0.0)), 0.05)
    im = ax.imshow(values, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=vmax, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if v > 0:
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if v < 0.6 * vmax else "black")  # fmt: skip
    ax.set_xticks(range(len(conds)), conds, rotation=20, ha="right")
    ax.set_yticks(range(len(pairs)), labels)
    ax.set_xlabel("condition")
    ax.set_title(f"{agent}: largest confusions (true → answered)")
    fig.colorbar(im, ax=ax, fraction=0.05, label="share of the true class's trials")
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
    side = max(3.2, 0.16 * k + 2.2)  # 8-pt labels need about 0.14 in each
    fig, ax = new_figure(side + 2.2, side)
    im = ax.imshow(np.where(status == "ok", val, np.nan), vmin=-1, vmax=1, cmap=DIVERGING_CMAP)
    ax.set_facecolor("white")
    for (i, j), st in np.ndenumerate(status):
        if st in ("ceiling", "floor"):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=CEILING_COLOUR, lw=0))
            if st == "floor":
                ax.text(j, i, "F", ha="center", va="center", fontsize=8)
        elif st == "too_few_shared":
            ax.add_patch(
                Rectangle((j - 0.5, i - 0.5), 1, 1, fc=TOO_FEW_COLOUR, ec="white", lw=0.2, hatch="////")
            )
    for i in range(k):
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, color="#444444", lw=0))
    if k <= 40:
        ax.set_xticks(range(k), agents, rotation=90)
        ax.set_yticks(range(k), agents)
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
def kappa_summary_plot(summary: pd.DataFrame, order: list[str]) -> Figure:
    """Mean kappa with its bootstrap 95% CI per condition: human-human and each model vs humans."""
    summary = summary[summary["comparison"] != "model-model"]  # pairs of runs: in the table only
    conds = [c for c in order if c in set(summary["condition"])]
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
def rt_plot(per: pd.DataFrame, by_condition: pd.DataFrame, order: list[str]) -> Figure:
    """Left: each participant's median RT and the group mean (95% CI); right: correct vs wrong."""
    conds = [c for c in order if c in set(per["condition"])]
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


@styled
def ceiling_plot(side: pd.DataFrame, order: list[str]) -> Figure:
    """Per condition: grey bar = human test-retest kappa (t 95% interval over participants); points =
    kappa of people with people and with each model (bootstrap 95% intervals)."""
    conds = [c for c in order if c in set(side["condition"])]
    series = list(dict.fromkeys(side["comparison"]))
    fig, ax = new_figure(max(4.5, 1.0 * len(conds) + 3), 3.0)
    x = np.arange(len(conds))
    ceiling = side.drop_duplicates("condition").set_index("condition").reindex(conds)
    bar = ceiling["human_test_retest_kappa"].to_numpy(float)
    lo, hi = (ceiling[f"human_test_retest_ci_{s}"].to_numpy(float) for s in ("low", "high"))
    bar_err = np.clip(np.nan_to_num(np.vstack([bar - lo, hi - bar])), 0, None)
    ax.bar(x, bar, 0.8, yerr=bar_err, capsize=3, color="#DDDDDD", error_kw={"lw": 0.8, "ecolor": "#777777"},
           label="human test-retest (ceiling, 95% CI)")  # fmt: skip
    for i, name in enumerate(series):
        s = side[side["comparison"] == name].set_index("condition").reindex(conds)
        err = np.clip(
            np.nan_to_num(np.vstack([s["kappa"] - s["kappa_ci_low"], s["kappa_ci_high"] - s["kappa"]])),
            0,
            None,
        )
        colour = HUMAN_COLOUR if name == "human-human" else model_colour(i)
        ax.errorbar(x + (i - (len(series) - 1) / 2) * 0.15, s["kappa"], yerr=err, fmt="o", ms=4, capsize=2,
                    color=colour, label=name)  # fmt: skip
    ax.axhline(0, **CHANCE_STYLE, label="kappa 0")
    ax.set_xticks(x, conds, rotation=20, ha="right")
    ax.set_ylim(min(-0.25, float(np.nanmin(side["kappa_ci_low"].to_numpy(float), initial=0.0)) - 0.05), 1.02)
    ax.set_ylabel("error consistency (kappa)")
    legend_outside(ax)
    return fig
