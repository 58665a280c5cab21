"""Models as populations: several training runs of one architecture, compared with people as a sample.

A single trained network is one draw from its training procedure; a paper claim ("networks fail on
negatives") is about the procedure. Runs are grouped by name: ``--runs NAME=a,b,c`` explicitly, or by a
run suffix (``mvgg8-seed0``, ``mvgg8_run2``, ``mvgg8-m1`` ...). Per group and condition we report the
runs' mean accuracy and spread, and test people against the model with a crossed bootstrap that
resamples participants, stimuli (items) and runs at once (Owen 2007's "pigeonhole" bootstrap for
crossed random effects), so the interval and p-value carry all three sources of variance. With one
run the run dimension cannot be resampled: the test then treats the network as fixed, and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.inference import holm
from analysis.stats.metrics import correctness_matrix

RUN_SUFFIX = re.compile(r"^(?P<group>.+?)[-_.](?:seed|run|rep|member|m|s)(?P<run>\d+)$")


def group_runs(models: list[str], explicit: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Architecture (group) -> its runs' agent names; explicit groups first, then name suffixes."""
    groups: dict[str, list[str]] = {}
    taken: set[str] = set()
    for name, runs in (explicit or {}).items():
        present = [r for r in runs if r in models]
        if present:
            groups[name] = present
            taken |= set(present)
    for m in models:
        if m in taken:
            continue
        match = RUN_SUFFIX.match(m)
        key = match.group("group") if match else m
        groups.setdefault(key, []).append(m)
    return {k: sorted(v) for k, v in groups.items()}


def parse_runs_argument(values: list[str]) -> dict[str, list[str]]:
    """``NAME=a,b,c`` items into a mapping; a malformed item raises ValueError naming it."""
    out: dict[str, list[str]] = {}
    for item in values:
        name, sep, runs = item.partition("=")
        members = [r.strip() for r in runs.split(",") if r.strip()]
        if not sep or not name.strip() or not members:
            raise ValueError(f"--runs expects NAME=model_a,model_b,..., got {item!r}")
        out[name.strip()] = members
    return out


@dataclass(frozen=True)
class PopulationResult:
    """runs: accuracy per group x condition x run; spread: mean, SD, min, max over runs;
    tests: people vs each group per condition (crossed bootstrap), Holm-corrected."""

    runs: pd.DataFrame
    spread: pd.DataFrame
    tests: pd.DataFrame
    groups: dict[str, list[str]]

    @property
    def single_run_groups(self) -> list[str]:
        return [g for g, r in self.groups.items() if len(r) == 1]


def _weighted_acc(w_rows: np.ndarray, mat: np.ndarray, w_items: np.ndarray) -> np.ndarray:
    """sum w_r w_i x_ri / sum w_r w_i seen_ri for each resample (rows of the weight arrays)."""
    seen = (~np.isnan(mat)).astype(float)
    x = np.nan_to_num(mat)
    num = np.einsum("br,ri,bi->b", w_rows, x, w_items)
    den = np.einsum("br,ri,bi->b", w_rows, seen, w_items)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)


def crossed_bootstrap_difference(
    human: np.ndarray, runs: np.ndarray, *, n_boot: int, rng: np.random.Generator, resample_runs: bool
) -> np.ndarray:
    """Resampled (human accuracy - model accuracy), humans: participants x items, runs: runs x items.

    Participants, items and (if asked) runs are each drawn with replacement; accuracies are trial-weighted
    means over the drawn participants/runs and items.
    """
    n_p, n_i = human.shape
    n_r = runs.shape[0]
    w_p = rng.multinomial(n_p, np.full(n_p, 1 / n_p), size=n_boot).astype(float)
    w_i = rng.multinomial(n_i, np.full(n_i, 1 / n_i), size=n_boot).astype(float)
    w_r = (
        rng.multinomial(n_r, np.full(n_r, 1 / n_r), size=n_boot).astype(float)
        if resample_runs
        else np.ones((n_boot, n_r))
    )
    return _weighted_acc(w_p, human, w_i) - _weighted_acc(w_r, runs, w_i)


def population_analysis(
    trials: pd.DataFrame, groups: dict[str, list[str]], *, n_boot: int = 2000, seed: int = 0
) -> PopulationResult:
    """Run accuracies, their spread, and people vs each model group per condition."""
    data = trials[~trials["catch"]]
    rng = np.random.default_rng(seed)
    run_rows, spread_rows, test_rows = [], [], []
    humans = sorted(data.loc[data["agent_type"] == "human", "agent"].unique())
    for cond, sub in data.groupby("condition"):
        stim = sorted(sub["stimulus_id"].unique())
        H = correctness_matrix(sub, humans, stim) if humans else np.empty((0, len(stim)))
        for group, runs in groups.items():
            R = correctness_matrix(sub, runs, stim)
            seen = ~np.isnan(R)
            if not seen.any():
                continue
            acc = np.nansum(R, axis=1) / np.maximum(seen.sum(axis=1), 1)
            for run, a, n in zip(runs, acc, seen.sum(axis=1), strict=True):
                run_rows.append({"model": group, "run": run, "condition": cond, "accuracy": a, "n": int(n)})
            spread_rows.append(
                {
                    "model": group,
                    "condition": cond,
                    "n_runs": len(runs),
                    "mean_accuracy": float(acc.mean()),
                    "sd_between_runs": float(acc.std(ddof=1)) if len(runs) > 1 else np.nan,
                    "min_accuracy": float(acc.min()),
                    "max_accuracy": float(acc.max()),
                }
            )
            if len(humans) < 2:
                continue
            h_acc = float(np.nansum(H) / (~np.isnan(H)).sum())
            m_acc = float(np.nansum(R) / seen.sum())
            diff = h_acc - m_acc
            boots = crossed_bootstrap_difference(H, R, n_boot=n_boot, rng=rng, resample_runs=len(runs) > 1)
            boots = boots[np.isfinite(boots)]
            se = float(boots.std(ddof=1)) if len(boots) > 1 else np.nan
            lo, hi = np.percentile(boots, [2.5, 97.5]) if len(boots) >= 20 else (np.nan, np.nan)
            z = diff / se if se and np.isfinite(se) and se > 0 else np.nan
            test_rows.append(
                {
                    "model": group,
                    "condition": cond,
                    "n_runs": len(runs),
                    "n_participants": len(humans),
                    "n_items": len(stim),
                    "human_accuracy": h_acc,
                    "model_accuracy": m_acc,
                    "diff": diff,
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                    "se": se,
                    "z": z,
                    "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
                    "variance_sources": "participants, items, runs"
                    if len(runs) > 1
                    else "participants, items (network fixed: one run)",
                }
            )
    tests = holm(pd.DataFrame(test_rows)) if test_rows else pd.DataFrame()
    return PopulationResult(pd.DataFrame(run_rows), pd.DataFrame(spread_rows), tests, groups)
