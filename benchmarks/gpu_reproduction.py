"""The GPU half of the reproductions, in one go (under 10 minutes on one CUDA GPU); prints one table.

    python benchmarks/gpu_reproduction.py [--quick] [--device cuda] [--out artifacts/gpu_reproduction]

1. the CUDA tests (``pytest -m needs_cuda``);
2. Hosseini et al. 2017 on GTSRB-like synthetic signs: MVGG-8 trained until its validation accuracy
   reaches the paper's regular GTSRB-color accuracy (Table II), then its regular and negative test
   accuracy beside the paper's;
3. FRI throughput: MVGG-8 on 48 px images and ResNet-50 on 224 px images (random weights: throughput
   only), each beside plain batched inference of the same network in the same run, and beside
   ``torch.compile``d plain inference (benchmarks/fri_throughput.py's ``measure``);
4. a fooling run (direct encoding) on the MVGG-8 of step 2: how many classes reach the paper's >99%.

``--quick`` shrinks every step (few images, one epoch, tiny FRI maps, no compile of ResNet-50) so the
script can be checked on a CPU; its numbers then say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.fri_throughput import measure
from model_eval.reproduce.papers.hosseini import HOSSEINI_TABLE_II
from model_eval.runtime.device import pick_device

Row = dict[str, Any]


def _paper_mvgg8_gtsrb() -> dict[str, Any]:
    return next(r for r in HOSSEINI_TABLE_II if r["network"] == "mvgg8" and r["dataset"] == "GTSRB-color")


def cuda_tests(device: torch.device) -> list[Row]:
    """``pytest -m needs_cuda``: the count that passed (skipped everywhere without CUDA)."""
    cmd = [sys.executable, "-m", "pytest", "-m", "needs_cuda", "-q", "-p", "no:cacheprovider", "tests"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    note = "" if device.type == "cuda" else "no CUDA here: the tests skip"
    return [_row("CUDA tests", "pytest -m needs_cuda", last, "all pass", note or f"exit {done.returncode}")]


def hosseini(out: Path, device: torch.device, quick: bool) -> tuple[list[Row], Path]:
    """MVGG-8 on synthetic signs to the paper's regular accuracy; regular and negative test accuracy."""
    from model_eval.reproduce.common import accuracy, load_test_split
    from model_eval.training import TrainingStopped, train, train_config

    paper = _paper_mvgg8_gtsrb()
    cfg = train_config(
        arch="mvgg8",
        source="synthetic",
        n_per_class=5 if quick else 300,
        epochs=1 if quick else 40,
        target_accuracy=paper["regular"] / 100,
        max_minutes=None if quick else 3.0,
        device=str(device),
        progress=False,
    )
    path = out / "mvgg8_synthetic.pt"
    stopped = ""
    try:
        result = train(cfg, path)
        val = result.val_accuracy
    except TrainingStopped:
        stopped = "stopped by its 3-minute budget; "
        from model_eval.nets.checkpoint import load_checkpoint

        val = float(load_checkpoint(path).data["history"][-1]["val_accuracy"])
    test = load_test_split("synthetic", None, 32, 2 if quick else 30, 0)
    regular = accuracy(path, test.images, test.labels, device)
    negative = accuracy(path, 1 - test.images, test.labels, device)
    reached = "reached" if val * 100 >= paper["regular"] else "not reached"
    rows = [
        _row(
            "Hosseini: MVGG-8, synthetic GTSRB",
            "validation accuracy %",
            f"{100 * val:.2f}",
            f"{paper['regular']} (target)",
            f"{stopped}target {reached}",
        ),
        _row(
            "Hosseini: MVGG-8, synthetic GTSRB",
            "test regular accuracy %",
            f"{100 * regular:.2f}",
            f"{paper['regular']}",
            f"{len(test.labels)} test images",
        ),
        _row(
            "Hosseini: MVGG-8, synthetic GTSRB",
            "test negative accuracy %",
            f"{100 * negative:.2f}",
            f"{paper['negative']}",
            "Table II, GTSRB-color",
        ),
    ]
    return rows, path


def fri_throughput(device: torch.device, quick: bool) -> list[Row]:
    """Crops/s of FRI maps beside images/s of plain and compiled plain inference, per network."""
    rows = []
    nets = (("mvgg8", 24 if quick else 48, True), ("resnet50", 40 if quick else 224, not quick))
    for arch, size, compile_beside in nets:
        r = measure(
            arch,
            size=size,
            side_ratio=0.9 if quick else 0.7,
            batch_size=32 if quick else 512,
            seconds=0.2 if quick else 2.0,
            rounds=1 if quick else 3,
            device=device,
            compile_beside=compile_beside,
        )
        what = f"FRI: {arch}, {size} px image, {int(r['n_crops'])} crops of {int(r['side'])} px"
        rows.append(_row(what, "FRI crops/s", f"{r['fri']:.0f}", "", f"input {int(r['input'])} px"))
        rows.append(
            _row(
                what,
                "plain inference images/s",
                f"{r['plain']:.0f}",
                "",
                f"FRI / plain {r['fri'] / r['plain']:.2f} (target >= 0.8)",
            )
        )
        if compile_beside:
            rows.append(
                _row(
                    what,
                    "compiled plain images/s",
                    f"{r['plain_compiled']:.0f}",
                    "",
                    f"FRI / compiled plain {r['fri'] / r['plain_compiled']:.2f}",
                )
            )
            rows.append(
                _row(
                    what,
                    "compiled FRI crops/s",
                    f"{r['fri_compiled']:.0f}",
                    "",
                    f"compiled FRI / compiled plain {r['fri_compiled'] / r['plain_compiled']:.2f}",
                )
            )
        else:
            rows.append(_row(what, "compiled plain images/s", "skipped", "", "--quick: no compile"))
    return rows


def fooling(model: Path, out: Path, device: torch.device, quick: bool) -> list[Row]:
    """Direct-encoding fooling images for every class; the classes above the paper's confidence."""
    from model_eval.fooling import FoolConfig, fool
    from model_eval.fooling.search import TARGET_CONFIDENCE

    target = TARGET_CONFIDENCE  # Nguyen et al. 2015's 99.99%
    cfg = FoolConfig(
        encoding="direct",
        generations=5 if quick else 1000,
        population=16 if quick else 128,
        target=target,
        max_minutes=None if quick else 1.0,
    )
    run = fool(model, out / "fooling", configs=[cfg], device=str(device), progress=False)
    res = run.results[0]
    conf = res.label_confidence.float()
    above = int((conf > target).sum())
    return [
        _row(
            "Fooling: MVGG-8, direct encoding",
            f"classes fooled above {100 * target:g}%",
            f"{above}/{len(conf)}",
            f"{100 * target:g}% (Nguyen 2015)",
            f"median {100 * conf.median().item():.1f}%, {res.generations_run} generations ({res.stopped})",
        ),
    ]


def _row(step: str, measure_: str, ours: str, paper: str, note: str) -> Row:
    return {"step": step, "measure": measure_, "ours": ours, "paper / target": paper, "note": note}


def _timed(rows: list[Row], fn: Callable[[], list[Row]], seconds: dict[str, float], key: str) -> None:
    start = time.monotonic()
    got = fn()
    seconds[key] = time.monotonic() - start
    for r in got:
        r["s"] = f"{seconds[key]:.0f}"
    rows += got


def run(device: torch.device, out: Path, quick: bool) -> list[Row]:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    seconds: dict[str, float] = {}
    model: list[Path] = []

    def step2() -> list[Row]:
        got, path = hosseini(out, device, quick)
        model.append(path)
        return got

    _timed(rows, lambda: cuda_tests(device), seconds, "tests")
    _timed(rows, step2, seconds, "hosseini")
    _timed(rows, lambda: fri_throughput(device, quick), seconds, "fri")
    _timed(rows, lambda: fooling(model[0], out, device, quick), seconds, "fooling")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the script on a CPU")
    p.add_argument("--device", default=None, help="default: CUDA, then MPS, then CPU")
    p.add_argument("--out", type=Path, default=Path("artifacts/gpu_reproduction"))
    args = p.parse_args(argv)
    device = pick_device(args.device)
    start = time.monotonic()
    rows = run(device, args.out, args.quick)
    import pandas as pd

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    print(f"device: {name}; torch {torch.__version__}; {'--quick' if args.quick else 'full'} run")
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"total {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
