"""``reproduce hosseini|aghdam`` on a tiny budget: paper numbers beside ours, ours recomputed here."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from model_eval.cli import main
from model_eval.data import load_source
from model_eval.nets.checkpoint import load_checkpoint
from model_eval.reproduce.papers.hosseini import HOSSEINI_HUMANS

TINY = ["--n-per-class", "2", "--test-per-class", "1", "--epochs", "1", "--no-progress", "--device", "cpu"]


@pytest.mark.slow
def test_reproduce_hosseini_puts_paper_beside_ours(tmp_path, capsys):
    out = tmp_path / "h"
    assert (
        main(
            [
                "reproduce",
                "hosseini",
                "--networks",
                "mvgg5",
                "--finetune-epochs",
                "1",
                "--finetune-per-class",
                "1",
                "--out",
                str(out),
                *TINY,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Table II" in printed and "humans (paper)" in printed
    t2 = pd.read_csv(out / "table2.csv")
    row = t2.set_index("network").loc["mvgg5"]
    # ours, recomputed here: the regular network on the synthetic test split and its negatives
    test = load_source("synthetic", root=None, split="test", size=32, n_per_class=1, seed=0)
    ck = load_checkpoint(out / "models" / "mvgg5.pt")
    with torch.no_grad():
        reg = (ck.classifier(test.images).argmax(1) == test.labels).float().mean().item()
        neg = (ck.classifier(1 - test.images).argmax(1) == test.labels).float().mean().item()
    assert row["regular ours %"] == pytest.approx(round(100 * reg, 1))
    assert row["negative ours %"] == pytest.approx(round(100 * neg, 1))
    assert row["chance ours %"] == pytest.approx(round(100 / 43, 1))  # one test image per class
    humans = t2.set_index("network").loc["humans (paper)"]
    assert humans["regular paper %"] == HOSSEINI_HUMANS["regular"]
    assert load_checkpoint(out / "models" / "mvgg5_gray.pt").in_channels == 1
    ft = pd.read_csv(out / "finetune.csv")
    assert list(ft["N negatives"]) == [43, 43] and set(ft["training"]) == {"fine-tuned", "from scratch"}
    html = (out / "report.html").read_text()
    for fig in ("table2.png", "finetune.png", "epochs.png"):
        assert fig in html and (out / fig).stat().st_size > 0


def test_reproduce_checks_arguments_before_any_work(tmp_path, capsys, monkeypatch):
    import stimuli

    monkeypatch.setattr(stimuli, "get_source", lambda *a, **k: (_ for _ in ()).throw(AssertionError("data")))
    for argv, msg in (
        (["hosseini", "--networks", "nope"], "unknown model"),
        (["aghdam", "--model", str(tmp_path / "none.pt")], "not found"),
        (["hosseini", "--source", "gtsrb"], "--root"),
        (["hosseini", "--max-minutes", "0"], "--max-minutes"),
    ):
        assert main(["reproduce", *argv, "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()
