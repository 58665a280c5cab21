"""Did the browser keep time? Trials whose image stayed on screen for a different number of frames
than requested, and the rule that can exclude them (reported like the catch rule).

The study runner measures the refresh rate before the trials and, for every timed trial, counts the
frames the image was actually shown and whether any were dropped (the export's ``frames_requested``,
``frames_shown``, ``frames_dropped``; empty for untimed trials). A trial is mistimed when the frames
shown differ from those requested by more than ``max_frame_error`` frames (one frame is the resolution
of any browser timing) or when a frame was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TimingRule:
    """Flag mistimed trials always; exclude them only when ``apply`` (off by default, always reported)."""

    apply: bool = False
    max_frame_error: int = 1

    def describe(self) -> str:
        what = (
            f"frames shown differ from those requested by more than {self.max_frame_error}, "
            "or a frame was dropped"
        )
        return what + ("" if self.apply else " (flagged, not excluded)")


def mistimed(trials: pd.DataFrame, rule: TimingRule) -> pd.Series:
    """True for timed trials whose presentation missed the requested duration (see the module doc)."""
    if "frames_requested" not in trials:
        return pd.Series(False, index=trials.index)
    requested = pd.to_numeric(trials["frames_requested"], errors="coerce")
    shown = pd.to_numeric(trials["frames_shown"], errors="coerce")
    dropped = pd.to_numeric(trials["frames_dropped"], errors="coerce").fillna(0)
    timed = requested.notna()
    off = (shown - requested).abs() > rule.max_frame_error
    return timed & ((off & shown.notna()) | (dropped > 0))


def is_timed(trials: pd.DataFrame) -> pd.Series:
    if "frames_requested" not in trials:
        return pd.Series(False, index=trials.index)
    return pd.to_numeric(trials["frames_requested"], errors="coerce").notna()


@dataclass(frozen=True)
class TimingResult:
    """Per participant: refresh rate, distance method, timed and mistimed trials; and the totals."""

    per_participant: pd.DataFrame
    n_timed: int
    n_mistimed: int
    distance_methods: dict[str, int]  # method -> participants
    rule: TimingRule

    def summary_scalars(self) -> dict[str, object]:
        return {
            "n_timed_trials": self.n_timed,
            "n_mistimed_trials": self.n_mistimed,
            "distance_methods": self.distance_methods,
        }


def timing_quality(trials: pd.DataFrame, rule: TimingRule) -> TimingResult:
    """Count timed and mistimed trials per participant (catch trials included: timing is the screen's)."""
    humans = trials[trials["agent_type"] == "human"]
    bad = mistimed(humans, rule)
    timed = is_timed(humans)
    cols = ["participant", "refresh_hz", "distance_method", "viewing_distance_mm"]
    rows = []
    for agent, g in humans.groupby("agent", sort=True):
        first = g.iloc[0]
        n_t, n_b = int(timed[g.index].sum()), int(bad[g.index].sum())
        rows.append(
            {
                "participant": agent,
                "refresh_hz": first.get("refresh_hz", np.nan),
                "distance_method": first.get("distance_method", np.nan),
                "viewing_distance_mm": first.get("viewing_distance_mm", np.nan),
                "n_timed_trials": n_t,
                "n_mistimed_trials": n_b,
                "share_mistimed": n_b / n_t if n_t else np.nan,
            }
        )
    per = pd.DataFrame(rows, columns=[*cols, "n_timed_trials", "n_mistimed_trials", "share_mistimed"])
    methods = per["distance_method"].dropna().astype(str).value_counts().sort_index()
    return TimingResult(per, int(timed.sum()), int(bad.sum()), {k: int(v) for k, v in methods.items()}, rule)
