"""Report figures (matplotlib, Agg). Each function returns PNG bytes so the report can embed them."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.psychometric import PsychometricFit


def _subplots(figsize: tuple[float, float]):
    """A figure on the Agg canvas without pyplot, so no global state or GUI backend is touched."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def accuracy_plot(acc: pd.DataFrame, title: str) -> bytes:
    """Accuracy per condition for pooled humans and each model, Wilson 95% intervals as error bars."""
    data = acc[acc["agent_type"].isin(["humans", "model"])]
    conds = sorted(data["condition"].unique())
    agents = list(dict.fromkeys(data["agent"]))
    fig, ax = _subplots(figsize=(max(5, 1.2 * len(conds) * max(1, len(agents)) / 2 + 2), 3.6))
    width = 0.8 / max(1, len(agents))
    for i, agent in enumerate(agents):
        g = data[data["agent"] == agent].set_index("condition").reindex(conds)
        xs = np.arange(len(conds)) + i * width - 0.4 + width / 2
        err = np.clip(np.vstack([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]]), 0, None)
        ax.bar(xs, g["accuracy"], width, yerr=err, capsize=3, label=agent)
    ax.set_xticks(np.arange(len(conds)), conds, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("proportion correct")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    return _png(fig)


def confusion_plot(mat: np.ndarray, title: str) -> bytes:
    """Row-normalised confusion matrix; the last column collects missing or invalid answers."""
    rows = mat.sum(axis=1, keepdims=True)
    norm = np.divide(mat, rows, out=np.zeros(mat.shape, float), where=rows > 0)
    fig, ax = _subplots(figsize=(4.2, 3.8))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xlabel("answered class (last column: no valid answer)")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def consistency_heatmap(pairs: pd.DataFrame, condition: str, agents: list[str]) -> bytes:
    """Kappa between every two agents that shared stimuli in one condition."""
    k = len(agents)
    idx = {a: i for i, a in enumerate(agents)}
    mat = np.full((k, k), np.nan)
    np.fill_diagonal(mat, 1.0)
    sub = pairs[pairs["condition"] == condition]
    for a, b, kap in zip(sub["agent_a"], sub["agent_b"], sub["kappa"], strict=True):
        if a in idx and b in idx:
            mat[idx[a], idx[b]] = mat[idx[b], idx[a]] = kap
    fig, ax = _subplots(figsize=(max(3.5, 0.35 * min(k, 40) + 2), max(3, 0.35 * min(k, 40) + 1.5)))
    im = ax.imshow(mat, vmin=-1, vmax=1, cmap="RdBu_r")
    # Past ~40 agents the names are unreadable and drawing them dominates the run time.
    if k <= 40:
        ax.set_xticks(range(k), agents, rotation=90, fontsize=6)
        ax.set_yticks(range(k), agents, fontsize=6)
    else:
        ax.set_xlabel(f"{k} agents (order as in tables/error_consistency_pairs.csv)")
    ax.set_title(f"error consistency (kappa), {condition}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def noise_plot(levels: pd.DataFrame, fits: list[PsychometricFit]) -> bytes:
    """Accuracy against PSNR with each agent's fitted logistic curve and its threshold."""
    fig, ax = _subplots(figsize=(5.5, 3.8))
    grid = np.linspace(levels["psnr"].min(), levels["psnr"].max(), 200)
    for fit in fits:
        lv = levels[levels["agent"] == fit.agent]
        line = ax.plot(lv["psnr"], lv["accuracy"], "o", label=fit.agent)[0]
        if np.isfinite(fit.threshold):
            ax.plot(grid, fit.predict(grid), "-", color=line.get_color())
            ax.axvline(fit.threshold, ls=":", color=line.get_color())
    if fits:
        ax.axhline(fits[0].chance, color="gray", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylabel("proportion correct")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    return _png(fig)


def fri_plot(df: pd.DataFrame) -> bytes:
    """Per FRI pair: the model's confidence gap against the human success gap."""
    fig, ax = _subplots(figsize=(4.5, 3.8))
    for model, g in df.groupby("model"):
        ax.scatter(g["model_conf_gap"], g["human_gap"], label=str(model), s=18)
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_xlabel("model confidence gap (counterpart - FRI, p(true))")
    ax.set_ylabel("human success gap (counterpart - FRI)")
    ax.legend(fontsize=8)
    return _png(fig)


__all__ = ["accuracy_plot", "confusion_plot", "consistency_heatmap", "fri_plot", "noise_plot"]
