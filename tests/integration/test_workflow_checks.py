"""The main job checks its arguments before any expensive step, and refuses an undertrained network."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

import stimuli.cli
from stimuli.stimulus_set import read_manifest
from workflow import cli as workflow


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--participants", "0"], "--participants must be at least 1"),
        (["run", "--epochs", "0", "--no-serve"], "--epochs must be at least 1"),
        (["run", "--n-per-class", "-2", "--no-serve"], "--n-per-class must be at least 1"),
        (["run", "--min-accuracy", "1.5", "--no-serve"], "--min-accuracy must lie in [0, 1]"),
        (["run", "--port", "70000", "--no-serve"], "--port must lie in 0..65535"),
        (["demo", "--train-minutes", "0"], "--train-minutes must be positive"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "study"
    started = time.monotonic()
    assert workflow.main([*argv, "--workdir", str(work)]) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not work.exists()  # nothing built, nothing trained


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gate") / "stimuli"
    argv = ["build", "--preset", "negative", "--out", str(out), "--n-per-class", "1", "--seed", "3"]
    assert stimuli.cli.main(argv) == 0
    return out


def _predictions(stimulus_dir: Path, out: Path, n_right: int) -> int:
    """Predictions that are right on exactly `n_right` regular, non-catch stimuli; returns their count."""
    manifest = read_manifest(stimulus_dir / "manifest.csv")
    regular = manifest[(manifest["condition"] == "regular") & ~manifest["catch"]]
    rows = []
    chosen, regular_ids = set(regular["stimulus_id"][:n_right]), set(regular["stimulus_id"])
    for sid, label in zip(manifest["stimulus_id"], manifest["label"], strict=True):
        right = sid in chosen or sid not in regular_ids
        response = int(label) if right else (int(label) + 1) % 43
        rows.append(
            {
                "model": "mvgg8",
                "stimulus_id": sid,
                "response": response,
                "confidence": 0.9,
                "prob_true": 0.9 if right else 0.01,
                **{f"top{k}": response for k in range(1, 6)},
            }
        )
    pd.DataFrame(rows).to_csv(out, index=False)
    return len(regular)


def test_gate_measures_regular_accuracy_and_refuses_below_the_bar(tiny_set: Path, tmp_path: Path) -> None:
    paths = workflow.Paths(tmp_path)
    (tmp_path / "stimuli").symlink_to(tiny_set)
    n = _predictions(tiny_set, paths.predictions, n_right=0)
    assert n >= 40
    n_right = (3 * n) // 4
    _predictions(tiny_set, paths.predictions, n_right=n_right)
    acc, counted = workflow.regular_accuracy(paths)
    assert counted == n and acc == pytest.approx(n_right / n)
    assert workflow.require_trained_network(paths, min_accuracy=0.7) == pytest.approx(n_right / n)
    with pytest.raises(workflow.WorkflowError) as refused:
        workflow.require_trained_network(paths, min_accuracy=0.9)
    text = str(refused.value)
    assert f"{n_right / n:.3f}" in text and "--epochs" in text and "--min-accuracy" in text


def test_gate_default_is_stated_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert workflow.main(["run", "--help"]) == 0
    helptext = " ".join(capsys.readouterr().out.split())
    stated = "refuse to go on below this network accuracy on regular stimuli"
    assert f"{stated} (default {workflow.DEFAULT_MIN_ACCURACY})" in helptext
