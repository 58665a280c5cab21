"""End to end: a stimulus set written by `stimuli`, simulated people with known effects, a model's
predictions constructed here (tests/analysis/simulate.py), then `python -m analysis.compare` (main)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.compare import main
from analysis.stats.consistency import error_consistency
from analysis.stats.metrics import HUMANS_POOLED
from tests.analysis import simulate


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("study")
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    simulate.simulate_responses(manifest).to_csv(root / "responses.csv", index=False)
    simulate.simulate_predictions(manifest).to_csv(root / "predictions.csv", index=False)
    return {
        "root": root,
        "set": set_dir,
        "responses": root / "responses.csv",
        "predictions": root / "predictions.csv",
    }


@pytest.fixture(scope="module")
def run(study: dict[str, Path]) -> dict[str, object]:
    out = study["root"] / "report"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(
            [
                "--responses",
                str(study["responses"]),
                "--predictions",
                str(study["predictions"]),
                "--stimuli",
                str(study["set"]),
                "--out",
                str(out),
                "--bootstrap",
                "100",
            ]
        )
    summary = json.loads((out / "summary.json").read_text())
    return {
        "rc": rc,
        "out": out,
        "stdout": buf.getvalue(),
        "summary": summary,
        "html": (out / "report.html").read_text(),
    }


def _independent_frame(study: dict[str, Path]) -> pd.DataFrame:
    """Recompute the analysed human trials straight from the files, without the analysis package."""
    man = pd.read_csv(study["set"] / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    resp = pd.read_csv(study["responses"], dtype={"stimulus_id": str})
    df = resp.merge(man, on="stimulus_id", suffixes=("", "_m"))
    df = df[~df["participant"].isin(["p_catchfail", "p_short"])]
    df = df[(df["rt_ms"] >= 200) & (df["rt_ms"] <= 30000)]
    df = df[df["catch_m"].astype(str).str.lower() != "true"]
    df["correct"] = (df["response"] == df["label"]).astype(int)
    return df


def _table(summary: dict, name: str) -> pd.DataFrame:
    return pd.DataFrame(summary["tables"][name])


def test_runs_and_labels_simulated(run: dict) -> None:
    assert run["rc"] == 0
    assert "SIMULATED DATA" in run["html"].split("</h1>")[0]
    assert run["html"].count("data:image/svg+xml;base64,") >= 5
    # every figure also as SVG and 300-dpi PNG files, and the whole report as a PDF beside the HTML
    svgs = sorted((run["out"] / "figures").glob("*.svg"))
    assert len(svgs) >= 5 and all(p.with_suffix(".png").is_file() for p in svgs)
    assert (run["out"] / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert run["summary"]["simulated"] is True
    assert run["summary"]["title"].startswith("SIMULATED DATA")
    assert "SIMULATED DATA" in run["stdout"]
    assert (run["out"] / "tables" / "accuracy.csv").is_file()


def test_exclusion_counts(run: dict) -> None:
    ex = _table(run["summary"], "exclusions").set_index("rule")
    assert ex.loc["failed catch trials", "participants_excluded"] == 1
    assert ex.loc["incomplete participants", "participants_excluded"] == 1
    assert ex.loc["RT outlier trials", "trials_excluded"] == 3  # simulate.py: trial 5 of p00..p02 at 50 ms
    assert run["summary"]["n_participants_analysed"] == 12


def test_accuracy_matches_independent_computation(run: dict, study: dict[str, Path]) -> None:
    df = _independent_frame(study)
    acc = _table(run["summary"], "accuracy")
    hum = acc[acc["agent"] == HUMANS_POOLED].set_index("condition")
    for cond, g in df.groupby("condition"):
        assert hum.loc[cond, "accuracy"] == pytest.approx(g["correct"].mean())
        assert hum.loc[cond, "n_trials"] == len(g)
    assert f"{hum.loc['regular', 'accuracy']:.3f}" in run["html"]
    pred = pd.read_csv(study["predictions"], dtype={"stimulus_id": str}).merge(
        pd.read_csv(study["set"] / "manifest.csv", dtype={"stimulus_id": str}), on="stimulus_id"
    )
    pred = pred[pred["catch"].astype(str).str.lower() != "true"]
    model = acc[acc["agent"] == "netA"].set_index("condition")
    for cond, g in pred.groupby("condition"):
        assert model.loc[cond, "accuracy"] == pytest.approx((g["response"] == g["label"]).mean())


def test_known_effects_are_found(run: dict) -> None:
    hvm = _table(run["summary"], "human_vs_model").set_index("condition")
    assert hvm.loc["negative", "method"].startswith("GEE")
    assert hvm.loc["negative", "diff_people_minus_model"] > 0.4 and hvm.loc["negative", "p_holm"] < 1e-3
    assert hvm.loc["regular", "p_holm"] > 0.05  # both at 0.95 by construction
    within = _table(run["summary"], "within_humans").set_index("contrast")
    assert within.loc["negative vs regular", "diff_tested_minus_baseline"] < -0.08
    assert within.loc["negative vs regular", "p_holm"] < 1e-3
    thr = _table(run["summary"], "noise_thresholds").set_index("agent")["threshold_psnr_db"]
    assert thr[HUMANS_POOLED] == pytest.approx(simulate.HUMAN_THRESHOLD, abs=2.0)
    # One network answers only 40 noise trials: over 20 simulation seeds its fitted threshold ranged
    # 21.1-32.1 dB (SD 2.6), so the bound is 3 SD (the pooled humans above have far more trials).
    assert thr["netA"] == pytest.approx(simulate.MODEL_THRESHOLD, abs=8.0)
    assert thr["netA"] > thr[HUMANS_POOLED]  # the network needs a cleaner image than people


def test_mcnemar_counts_match_the_predictions(run: dict, study: dict[str, Path]) -> None:
    man = pd.read_csv(study["set"] / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    pred = pd.read_csv(study["predictions"], dtype={"stimulus_id": str}).merge(man, on="stimulus_id")
    pred["ok"] = pred["response"] == pred["label"]
    wide = pred[
        pred["condition"].isin(["regular", "negative"]) & (pred["catch"].astype(str).str.lower() != "true")
    ]
    wide = wide.pivot(index="source_id", columns="condition", values="ok")
    mc = _table(run["summary"], "within_models_mcnemar").iloc[0]
    assert mc["n_baseline_right_tested_wrong"] == int((wide["regular"] & ~wide["negative"]).sum())
    assert mc["n_baseline_wrong_tested_right"] == int((~wide["regular"] & wide["negative"]).sum())


def test_error_consistency_matches_per_participant_loop(run: dict, study: dict[str, Path]) -> None:
    df = _independent_frame(study)
    pred = pd.read_csv(study["predictions"], dtype={"stimulus_id": str})
    model_right = dict(zip(pred["stimulus_id"], pred["response"], strict=True))
    man = pd.read_csv(study["set"] / "manifest.csv", dtype={"stimulus_id": str})
    label = dict(zip(man["stimulus_id"], man["label"], strict=True))
    kappas = []
    for _, g in df[df["condition"] == "negative"].groupby("participant"):
        h = (g["response"] == g["label"]).to_numpy(float)
        m = np.array([model_right[s] == label[s] for s in g["stimulus_id"]], float)
        kappas.append(error_consistency(h, m)["kappa"])
    ec = _table(run["summary"], "error_consistency")
    row = ec[(ec["comparison"] == "human-model") & (ec["condition"] == "negative")].iloc[0]
    assert row["kappa"] == pytest.approx(np.mean(kappas))
    assert row["kappa_ci_low"] <= row["kappa"] <= row["kappa_ci_high"]


def test_fri_and_power_sections(run: dict, study: dict[str, Path]) -> None:
    pairs = _table(run["summary"], "fri_pairs")
    assert len(pairs) == 10
    assert (pairs["model_correct_fri"] == 1).all() and (pairs["model_correct_partner"] == 0).all()
    power = _table(run["summary"], "power")
    assert {"participants_needed", "more_needed"} <= set(power.columns)
    target = power[power["basis"] == "target difference"]
    assert len(target) > 0 and (target["difference_to_detect"] == 0.05).all()
    # never below the stated minimum, and whole counterbalancing cycles
    assert (power["participants_needed"] >= 20).all()
    assert "solver" not in run["html"] and "did not converge" not in run["html"]


def test_rt_section_matches_hand_computed_medians(run: dict, study: dict[str, Path]) -> None:
    df = _independent_frame(study)
    df = df[df["response"].notna()]
    medians = df.groupby(["condition", "participant"])["rt_ms"].median()
    rt = _table(run["summary"], "rt_by_condition").set_index("condition")
    for cond, m in medians.groupby(level="condition"):
        assert rt.loc[cond, "mean_of_median_rt_ms"] == pytest.approx(m.mean())
        assert rt.loc[cond, "n_participants"] == len(m)
        assert rt.loc[cond, "ci_low"] <= rt.loc[cond, "mean_of_median_rt_ms"] <= rt.loc[cond, "ci_high"]


def test_a_single_run_is_called_fixed_and_sections_are_present(run: dict) -> None:
    html = run["html"]
    assert "treats the network as fixed" in html
    pvm = _table(run["summary"], "people_vs_models")
    assert (
        (pvm["n_runs"] == 1).all()
        and (pvm["ci_low"] <= pvm["diff_humans_minus_model"]).all()
        and (pvm["diff_humans_minus_model"] <= pvm["ci_high"]).all()
    )
    ec = _table(run["summary"], "error_consistency")
    assert {"n_pairs_ceiling", "n_pairs_floor", "n_pairs_too_few_shared"} <= set(ec.columns)
    ok = ec["kappa_ci_low"].notna()
    assert (
        (ec.loc[ok, "kappa_ci_low"] <= ec.loc[ok, "kappa"])
        & (ec.loc[ok, "kappa"] <= ec.loc[ok, "kappa_ci_high"])
    ).all()
    for heading in ("2. Participants", "6. Reaction times", "10. Provenance", "Software versions"):
        assert heading in html
    assert "<details>" in html  # long tables collapsed
    assert (run["out"] / "figures" / "participants.svg").is_file()


def test_markdown_and_not_applicable_sections(
    study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy of the set whose manifest keeps only regular and negative stimuli: the noise and FRI
    # sections must say "not applicable", and responses to the removed stimuli must be reported.
    small = tmp_path / "set"
    shutil.copytree(study["set"], small)
    man = pd.read_csv(small / "manifest.csv", dtype=str, keep_default_na=False)
    man[man["condition"].isin(["regular", "negative"])].to_csv(small / "manifest.csv", index=False)
    rc = main(
        [
            "--responses",
            str(study["responses"]),
            "--predictions",
            str(study["predictions"]),
            "--stimuli",
            str(small),
            "--out",
            str(tmp_path / "out"),
            "--format",
            "md",
            "--bootstrap",
            "0",
        ]
    )
    assert rc == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Noise analysis: not applicable" in text
    assert "FRI pairs: not applicable" in text
    assert "stimulus ids not in the manifest" in text
    assert "SIMULATED DATA" in text
    assert list((tmp_path / "out" / "figures").glob("*.png"))
    assert "input problem" in capsys.readouterr().out


def test_kappa_ceiling_exclude_and_item_intervals_from_the_command_line(
    study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--responses", str(study["responses"]), "--predictions", str(study["predictions"])]
    args += ["--stimuli", str(study["set"]), "--out", str(tmp_path / "o"), "--bootstrap", "60", "--no-pdf"]
    assert main([*args, "--kappa-ceiling", "exclude", "--kappa-ci", "items"]) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (summary["kappa_ceiling"], summary["kappa_ci_unit"]) == ("exclude", "items")
    ec = _table(summary, "error_consistency")
    assert (ec["ceiling_policy"] == "exclude").all()
    assert set(ec.loc[ec["comparison"] != "model-model", "ci_unit"]) == {"items"}
    pairs = pd.read_csv(tmp_path / "o" / "tables" / "error_consistency_pairs.csv")
    undefined = pairs["status"].isin(["ceiling", "floor"])
    assert pairs.loc[undefined, "kappa"].isna().all()
    for (kind, cond), g in pairs.groupby(["comparison", "condition"]):
        row = ec[(ec["comparison"] == kind) & (ec["condition"] == cond)].iloc[0]
        assert row["n_pairs_ceiling"] == int((g["status"] == "ceiling").sum())
        if g["kappa"].notna().any():
            assert row["kappa"] == pytest.approx(g["kappa"].mean())
    with pytest.raises(SystemExit) as exc:  # argparse refuses an unknown policy with one line
        main([*args, "--kappa-ceiling", "sometimes"])
    assert exc.value.code == 2
