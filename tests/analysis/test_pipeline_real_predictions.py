"""The whole pipeline with real tools: `python -m stimuli build`, `python -m model_eval train/predict`
(a tiny, barely trained LeNet-5: what matters is that its real predictions flow through), simulated
people, then `python -m analysis.compare`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.compare import main
from analysis.inputs.provenance import networks_sidecar
from analysis.stats.metrics import HUMANS_POOLED
from tests.analysis import simulate


def _cli(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_compare_on_real_model_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_dir = tmp_path / "set"
    _cli(
        "stimuli",
        "build",
        "--preset",
        "negative",
        "--out",
        str(set_dir),
        "--n-per-class",
        "1",
        "--seed",
        "0",
        "--no-progress",
    )
    ckpt = tmp_path / "lenet.pt"
    _cli(
        "model_eval",
        "train",
        "--arch",
        "lenet5",
        "--out",
        str(ckpt),
        "--source",
        "synthetic",
        "--n-per-class",
        "3",
        "--epochs",
        "1",
        "--no-progress",
        "--device",
        "cpu",
    )
    preds = tmp_path / "predictions.csv"
    _cli(
        "model_eval",
        "predict",
        "--model",
        str(ckpt),
        "--stimuli",
        str(set_dir),
        "--out",
        str(preds),
        "--no-progress",
        "--device",
        "cpu",
    )

    assert networks_sidecar(preds).exists()  # model_eval's side of the contract
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str, "source_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    n_classes = len(json.loads((set_dir / "stimulus_set.json").read_text())["classes"])
    p = {"regular": 0.97, "negative": 0.80, "gray": 0.95, "gray_negative": 0.80}
    simulate.simulate_by_condition(manifest, p, n_classes).to_csv(tmp_path / "responses.csv", index=False)

    out = tmp_path / "report"
    rc = main(
        [
            "--responses",
            str(tmp_path / "responses.csv"),
            "--predictions",
            str(preds),
            "--stimuli",
            str(set_dir),
            "--out",
            str(out),
            "--bootstrap",
            "50",
            "--checkpoint",
            str(ckpt),
            "--no-pdf",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    # Provenance: the real checkpoint's training state, as model_eval recorded it.
    trained = pd.DataFrame(summary["tables"]["provenance_checkpoints"]).iloc[0]
    assert trained["epochs_run"] >= 1 and 0 <= float(trained["val_accuracy"].split(",")[0]) <= 1
    acc = pd.DataFrame(summary["tables"]["accuracy"])

    # The model's accuracy in the report equals the one computed here from its real predictions.
    pr = pd.read_csv(preds, dtype={"stimulus_id": str}).merge(
        manifest.drop(columns="model"), on="stimulus_id"
    )
    pr = pr[~pr["catch"]]
    model = str(pr["model"].iloc[0])
    got = acc[acc["agent"] == model].set_index("condition")["accuracy"]
    for cond, g in pr.groupby("condition"):
        assert got[cond] == pytest.approx((g["response"] == g["label"]).mean())
    assert set(acc.loc[acc["agent"] == HUMANS_POOLED, "condition"]) == set(p)
    within = pd.DataFrame(summary["tables"]["within_humans"]).set_index("contrast")
    assert within.loc["negative vs regular", "diff_tested_minus_baseline"] < 0
    assert within.loc["negative vs regular", "p_holm"] < 0.01
    assert len(pd.DataFrame(summary["tables"]["within_models_mcnemar"])) == 2
