"""Timing rule (frames shown vs requested, dropped frames) and the human noise ceiling from repeated
stimuli, against counts and kappas worked out by hand below; and old exports without these columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.stats.timing import TimingRule
from tests.analysis import simulate

WHO = "p00"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("timing")
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    resp = simulate.simulate_responses(manifest, n_participants=4)
    labels = manifest.set_index("stimulus_id")["label"]
    n_classes = int(manifest["label"].max()) + 1
    resp[["refresh_hz", "distance_method", "viewing_distance_mm"]] = [60.0, "assumed", 570.0]
    resp.loc[resp["participant"] == WHO, ["distance_method", "viewing_distance_mm"]] = ["blind_spot", 512.0]
    # p00's first ten answered non-catch trials are timed at 3 frames: one shown for 5 frames (off by 2:
    # mistimed), one for 4 (off by 1: within the rule), one dropped a frame (mistimed) -> 2 of 10.
    mine = resp.index[(resp["participant"] == WHO) & ~resp["catch"] & resp["response"].notna()][:10]
    resp[["frames_requested", "frames_shown", "frames_dropped"]] = np.nan
    resp.loc[mine, "rt_ms"] = 1000.0  # inside the RT rule, so no rule but timing touches these trials
    resp.loc[mine, ["frames_requested", "frames_shown", "frames_dropped"]] = [3, 3, 0]
    resp.loc[mine[0], "frames_shown"] = 5
    resp.loc[mine[1], "frames_shown"] = 4
    resp.loc[mine[2], "frames_dropped"] = 1
    # p00 sees four stimuli twice. Correct on first showing 1,1,0,1 and on the second 1,0,0,1:
    # c_obs = 3/4, p1 = 3/4, p2 = 1/2, c_exp = 3/4*1/2 + 1/4*1/2 = 1/2, kappa = (3/4-1/2)/(1-1/2) = 1/2;
    # answers: same, different (right vs wrong), same wrong class, same -> agreement 3/4.
    again = mine[3:7]
    right = lambda s: int(labels[s])  # noqa: E731
    wrong = lambda s: (int(labels[s]) + 1) % n_classes  # noqa: E731
    firsts = [right, right, wrong, right]
    seconds = [right, wrong, wrong, right]
    resp["repeat"] = 0
    rep = resp.loc[again].copy()
    for i, (idx, f, s) in enumerate(zip(again, firsts, seconds, strict=True)):
        sid = resp.at[idx, "stimulus_id"]
        resp.at[idx, "response"] = f(sid)
        rep.at[idx, "response"] = s(sid)
        rep.at[idx, "trial_index"] = resp["trial_index"].max() + 1 + i
    rep["repeat"] = 1
    rep[["frames_requested", "frames_shown", "frames_dropped"]] = np.nan
    pd.concat([resp, rep]).to_csv(root / "responses.csv", index=False)
    new = ["frames_requested", "frames_shown", "frames_dropped", "repeat", "refresh_hz", "distance_method"]
    resp.drop(columns=[*new, "viewing_distance_mm"]).to_csv(root / "old.csv", index=False)
    simulate.simulate_predictions(manifest).to_csv(root / "predictions.csv", index=False)
    return {"root": root, "set": set_dir}


def _report(
    inputs: dict, out: Path, responses: str = "responses.csv", **options: object
) -> analysis.ReportResult:
    root = inputs["root"]
    opts = analysis.CompareOptions(statistics=analysis.Options(n_boot=20), pdf=False, **options)
    return analysis.write_report(
        root / responses, inputs["set"], out, [root / "predictions.csv"], options=opts
    )


def test_timing_flags_counts_and_excludes_on_request(inputs: dict, tmp_path: Path) -> None:
    flagged = _report(inputs, tmp_path / "flag")
    per = flagged.tables["timing_per_participant"].set_index("participant")
    assert (per.at[WHO, "n_timed_trials"], per.at[WHO, "n_mistimed_trials"]) == (10, 2)
    assert per.at[WHO, "share_mistimed"] == pytest.approx(0.2)
    assert per.drop(index=WHO)["n_timed_trials"].sum() == 0
    rules = flagged.tables["exclusions"].set_index("rule")
    assert not rules.at["mistimed trials", "enabled"] and rules.at["mistimed trials", "trials_excluded"] == 0
    html = flagged.report.read_text()
    assert "2 of 10 timed trials (20.0%) missed the requested duration" in html
    assert "1 participant(s) measured with the blind-spot method" in html
    assert "5 participant(s) assumed, not measured" in html
    excluded = _report(inputs, tmp_path / "excl", timing=TimingRule(apply=True))
    rules = excluded.tables["exclusions"].set_index("rule")
    assert rules.at["mistimed trials", "enabled"] and rules.at["mistimed trials", "trials_excluded"] == 2
    n = excluded.tables["accuracy_per_participant"].groupby("participant")["n_trials"].sum()
    n_before = flagged.tables["accuracy_per_participant"].groupby("participant")["n_trials"].sum()
    assert n_before[WHO] - n[WHO] == 2 and (n.drop(WHO) == n_before.drop(WHO)).all()


def test_noise_ceiling_matches_hand_computed_kappa(inputs: dict, tmp_path: Path) -> None:
    result = _report(inputs, tmp_path / "ceil")
    per = result.tables["test_retest_per_participant"]
    mine = per[(per["participant"] == WHO) & (per["condition"] == "all")].iloc[0]
    assert mine["n_repeated"] == 4
    assert mine["kappa"] == pytest.approx(0.5)
    assert mine["answer_agreement"] == pytest.approx(0.75)
    ceiling = result.tables["noise_ceiling"].set_index("condition")
    assert ceiling.at["all", "kappa_mean"] == pytest.approx(0.5) and ceiling.at["all", "n_participants"] == 1
    beside = result.tables["consistency_vs_ceiling"]
    assert {"human-human", "humans-netA"} <= set(beside["comparison"])
    # repeats are kept out of every other analysis: p00's trial count is that of the first showings
    acc = result.tables["accuracy_per_participant"]
    raw = pd.read_csv(inputs["root"] / "responses.csv")
    raw = raw[(raw["participant"] == WHO) & ~raw["catch"] & raw["rt_ms"].between(200, 30000)]
    assert acc.loc[acc["participant"] == WHO, "n_trials"].sum() == int((raw["repeat"] == 0).sum())


def test_old_exports_without_timing_columns(inputs: dict, tmp_path: Path) -> None:
    result = _report(inputs, tmp_path / "old", responses="old.csv")
    assert "mistimed trials" not in set(result.tables["exclusions"]["rule"])
    html = result.report.read_text()
    assert "Timing: no timed trials" in html and "Human noise ceiling (no repeated stimuli" in html
