"""Bad inputs: one clear error line and a non-zero exit; data problems reported, never silently dropped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.compare import main
from analysis.inputs.load import AnalysisInputError, build_long_table, load_responses, load_stimulus_info
from analysis.stats.exclusions import CatchRule, ExclusionRules, apply_exclusions
from tests.analysis import simulate


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    resp = simulate.simulate_responses(manifest, n_participants=4)
    resp.to_csv(root / "responses.csv", index=False)
    simulate.simulate_predictions(manifest).to_csv(root / "predictions.csv", index=False)
    return {
        "root": root,
        "set": set_dir,
        "responses": root / "responses.csv",
        "predictions": root / "predictions.csv",
    }


def _run(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], **over: str
) -> tuple[int, str]:
    args = {
        "--responses": str(files["responses"]),
        "--predictions": str(files["predictions"]),
        "--stimuli": str(files["set"]),
        "--out": str(tmp_path / "out"),
    } | over
    rc = main([x for kv in args.items() for x in kv] + ["--bootstrap", "0", "--no-pdf"])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("--responses", "/nonexistent/responses.csv", "responses file not found"),
        ("--predictions", "/nonexistent/p.csv", "predictions file not found"),
        ("--stimuli", "/nonexistent/set", "stimulus set directory not found"),
    ],
)
def test_missing_files(files, tmp_path, capsys, key, value, expect) -> None:
    rc, err = _run(files, tmp_path, capsys, **{key: value})
    assert rc == 2
    assert err.strip().count("\n") == 0 and expect in err
    assert not (tmp_path / "out").exists()


def test_wrong_columns(files, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    pd.read_csv(files["responses"]).drop(columns=["rt_ms"]).to_csv(bad, index=False)
    rc, err = _run(files, tmp_path, capsys, **{"--responses": str(bad)})
    assert rc == 2 and "lacks column(s) rt_ms" in err and err.count("\n") == 1


def test_database_url_that_does_not_answer(files, tmp_path, capsys) -> None:
    url = "postgresql+psycopg://user:hunter2@127.0.0.1:9/nodb"
    rc, err = _run(files, tmp_path, capsys, **{"--responses": url})
    assert rc == 2 and err.startswith("error:") and err.count("\n") == 1
    assert "hunter2" not in err


def test_mixed_simulated_refused_unless_flag(files, tmp_path, capsys) -> None:
    df = pd.read_csv(files["responses"])
    df.loc[df["participant"] == "p00", "simulated"] = False
    mixed = tmp_path / "mixed.csv"
    df.to_csv(mixed, index=False)
    rc, err = _run(files, tmp_path, capsys, **{"--responses": str(mixed)})
    assert rc == 2 and "simulated" in err and "--allow-mixed-simulated" in err
    rc = main(
        [
            "--responses",
            str(mixed),
            "--predictions",
            str(files["predictions"]),
            "--stimuli",
            str(files["set"]),
            "--out",
            str(tmp_path / "o2"),
            "--bootstrap",
            "0",
            "--allow-mixed-simulated",
        ]
    )
    assert rc == 0
    assert "SIMULATED and real participants mixed" in (tmp_path / "o2" / "report.html").read_text()


def test_problems_are_reported_with_counts(files) -> None:
    info = load_stimulus_info(files["set"])
    resp = load_responses(files["responses"])
    resp.loc[resp.index[:2], "stimulus_id"] = "not-a-stimulus"
    resp.loc[resp.index[2], "response"] = 99
    resp = pd.concat([resp, resp.iloc[[10, 11, 12]]], ignore_index=True)  # three duplicate trials
    table = build_long_table(
        resp, pd.DataFrame(columns=["model", "stimulus_id", "response", "confidence", "prob_true"]), info
    )
    text = "\n".join(table.issues)
    assert "2 trial(s) name stimulus ids not in the manifest" in text
    assert "3 duplicate trial(s)" in text
    assert "1 response(s) are class ids outside 0..4" in text
    assert len(table.trials) == len(resp) - 2 - 3
    # The out-of-range answer is kept and counted wrong.
    assert table.trials.loc[table.trials["response"] == 99, "correct"].tolist() == [0]


def test_malformed_stimulus_json(tmp_path) -> None:
    (tmp_path / "stimulus_set.json").write_text("{not json")
    with pytest.raises(AnalysisInputError, match="malformed"):
        load_stimulus_info(tmp_path)


def test_exclusion_switches(files) -> None:
    info = load_stimulus_info(files["set"])
    table = build_long_table(
        load_responses(files["responses"]),
        pd.DataFrame(columns=["model", "stimulus_id", "response", "confidence", "prob_true"]),
        info,
    )
    trials = table.trials.copy()
    slow = trials.index[(trials["agent"] == "p00") & ~trials["catch"]][:2]
    trials.loc[slow, "rt_ms"] = 40000.0
    trials.loc[slow[0], ["response", "answered", "correct"]] = [float("nan"), False, 0]  # a timeout
    res = apply_exclusions(trials, ExclusionRules())
    kept, ex = res.kept, res.rules
    assert set(table.trials["agent"]) - set(kept["agent"]) == {"p_catchfail", "p_short"}
    # The slow answer is an RT outlier; the timeout is kept and counts as wrong.
    left = kept[kept["rt_ms"] == 40000.0]
    assert len(left) == 1 and not left["answered"].iloc[0] and left["correct"].iloc[0] == 0
    assert ex.set_index("rule").loc["RT outlier trials", "trials_excluded"] == 1 + 3
    off = ExclusionRules(catch=CatchRule(None, "off"), drop_incomplete=False, rt_min_ms=None, rt_max_ms=None)
    res_all = apply_exclusions(table.trials, off)
    kept_all, ex_all = res_all.kept, res_all.rules
    assert len(kept_all) == len(table.trials)
    assert ex_all["enabled"].tolist() == [False, False, False, False]
    # A minimum regular accuracy of 1.01 excludes everyone left.
    res_min = apply_exclusions(table.trials, ExclusionRules(min_regular_accuracy=1.01))
    kept_none, ex_min = res_min.kept, res_min.rules
    assert (kept_none["agent_type"] == "human").sum() == 0
    assert ex_min.set_index("rule").loc["low regular-image accuracy", "participants_excluded"] == 4


def test_help_exits_zero(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--responses" in capsys.readouterr().out


def test_humans_only_report(files, tmp_path, capsys) -> None:
    rc = main(
        [
            "--responses",
            str(files["responses"]),
            "--stimuli",
            str(files["set"]),
            "--out",
            str(tmp_path / "o"),
            "--bootstrap",
            "0",
            "--no-pdf",
        ]
    )
    assert rc == 0
    text = (tmp_path / "o" / "report.html").read_text()
    assert "People vs models (need both human trials and predictions in a condition): not applicable" in text


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--runs", "nothing"], "--runs expects NAME=model_a,model_b"),
        (["--runs", "net=netA,netZ"], "--runs names model 'netZ', which no predictions file has"),
        (["--checkpoint", "/nonexistent/m.pt"], "checkpoint file not found: /nonexistent/m.pt"),
        (["--catch-max-failures", "-1"], "--catch-max-failures must be 0 or more"),
    ],
)
def test_new_options_fail_with_one_line(files, tmp_path, capsys, extra, expect) -> None:
    args = ["--responses", str(files["responses"]), "--predictions", str(files["predictions"])]
    rc = main([*args, "--stimuli", str(files["set"]), "--out", str(tmp_path / "o"), "--no-pdf", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and expect in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()  # refused before any output
