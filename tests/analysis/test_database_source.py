"""Responses read from a real study_server database URL through study_server.export.responses_frame."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from analysis.compare import main
from tests.analysis import simulate


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("db")
    url = f"sqlite:///{root / 'study.db'}"
    key = "analysis-test-key-of-at-least-32-bytes"
    env = os.environ | {"STUDY_SECRET_KEY": key, "STUDY_DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "study_server", "init-db"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    set_dir = simulate.build_set(root / "set")
    manifest = pd.read_csv(set_dir / "manifest.csv", dtype={"stimulus_id": str})
    manifest["catch"] = manifest["catch"].astype(str).str.lower() == "true"
    simulate.simulate_predictions(manifest).to_csv(root / "predictions.csv", index=False)
    return {"root": root, "url": url, "set": set_dir, "predictions": root / "predictions.csv"}


def test_empty_study_database_gives_a_models_only_report(database, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STUDY_SECRET_KEY", "analysis-test-key-of-at-least-32-bytes")
    rc = main(
        [
            "--responses",
            str(database["url"]),
            "--predictions",
            str(database["predictions"]),
            "--stimuli",
            str(database["set"]),
            "--out",
            str(tmp_path / "o"),
            "--bootstrap",
            "0",
            "--no-pdf",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_participants_raw"] == 0
    assert "no human trials at all" in summary["issues"][0]
    assert "netA" in {r["agent"] for r in summary["tables"]["accuracy"]}


def test_database_without_secret_is_one_clear_line(database, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("STUDY_SECRET_KEY", raising=False)
    rc = main(
        ["--responses", str(database["url"]), "--stimuli", str(database["set"]), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: could not read responses from sqlite:")
    assert "STUDY_SECRET_KEY" in err and err.count("\n") == 1
