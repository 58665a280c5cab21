"""The report from Python: analysis.write_report with typed arguments, the sidecar in provenance, and the
command line (`python -m analysis compare`, `python -m analysis.compare`) on the same function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import analysis
from analysis.inputs.provenance import networks_sidecar
from tests.analysis import simulate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    simulate.simulate_responses(manifest, n_participants=4).to_csv(root / "responses.csv", index=False)
    preds = simulate.simulate_predictions(manifest)
    preds.to_csv(root / "predictions.csv", index=False)
    first = preds["model"] == sorted(preds["model"].unique())[0]  # the same answers, in two files
    preds[first].to_csv(root / "first.csv", index=False)
    preds[~first].to_csv(root / "rest.csv", index=False)
    return {
        "root": root,
        "set": set_dir,
        "responses": root / "responses.csv",
        "predictions": root / "predictions.csv",
    }


def test_write_report_returns_what_it_wrote(files: dict[str, Path], tmp_path: Path) -> None:
    preds = files["predictions"]
    models = sorted(pd.read_csv(preds)["model"].unique())
    stopped = {"model": models[0], "name": models[0], "arch": "lenet5", "epochs_run": 3, "epochs_planned": 10}
    stopped |= {"val_accuracy": [0.5, 0.25], "sha256": "ab" * 32, "checkpoint": "m.pt"}
    networks_sidecar(preds).write_text(json.dumps({"schema": 1, "networks": [stopped]}))
    try:
        result = analysis.write_report(
            files["responses"],
            files["set"],
            tmp_path / "r",
            [preds],
            options=analysis.CompareOptions(statistics=analysis.Options(n_boot=0), pdf=False),
        )
    finally:
        networks_sidecar(preds).unlink()
    assert result.report == tmp_path / "r" / "report.html" and result.report.is_file()
    assert result.pdf is None and not (tmp_path / "r" / "report.pdf").exists()
    # the tables it returns are the CSVs it wrote
    written = pd.read_csv(tmp_path / "r" / "tables" / "accuracy.csv")
    assert len(written) == len(result.tables["accuracy"]) and set(models) <= set(written["agent"])
    assert result.figures["accuracy"].is_file()
    s = result.summary
    people = pd.read_csv(files["responses"])["participant"].nunique()
    removed = len(result.tables.get("excluded_participants", []))
    assert s["n_participants_raw"] == people and s["n_participants_analysed"] == people - removed
    # the sidecar's record is the provenance table, and its stop after 3 of 10 epochs is a warning
    net = result.tables["provenance_checkpoints"].iloc[0]
    assert (net["model"], net["epochs_run"], net["val_accuracy"]) == (models[0], 3, "0.5000, 0.2500")
    assert "training stopped after 3 of 10 epochs" in result.report.read_text()


def test_bad_typed_input_is_refused_before_writing(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(analysis.AnalysisInputError, match="min_regular_accuracy must be between 0 and 1"):
        analysis.CompareOptions(min_regular_accuracy=2.0)
    with pytest.raises(analysis.AnalysisInputError, match="not a networks record"):
        preds = tmp_path / "p.csv"
        preds.write_text(files["predictions"].read_text())
        networks_sidecar(preds).write_text(json.dumps({"schema": 7}))
        analysis.write_report(files["responses"], files["set"], tmp_path / "o", [preds])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("module", [["analysis", "compare"], ["analysis.compare"]])
def test_both_command_lines_run_the_function(
    files: dict[str, Path], tmp_path: Path, module: list[str]
) -> None:
    out = tmp_path / "o"
    args = ["--responses", str(files["responses"]), "--stimuli", str(files["set"]), "--out", str(out)]
    args += ["--predictions", str(files["root"] / "first.csv"), str(files["root"] / "rest.csv")]
    args += ["--bootstrap", "0", "--no-pdf"]
    run = subprocess.run([sys.executable, "-m", *module, *args], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert f"report: {out / 'report.html'}" in run.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"].startswith("python -m analysis.compare --responses")
    assert summary["models"] == sorted(pd.read_csv(files["predictions"])["model"].unique())  # both files read
    bad = subprocess.run(
        [sys.executable, "-m", *module, *args, "--format", "pdf"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")
