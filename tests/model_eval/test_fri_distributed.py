"""`fri` under torchrun: two gloo processes on the CPU map their shares of the images; the gathered result
(fractions, maps, exported pairs) equals a one-process run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import stimuli
from model_eval.cli import main


@pytest.mark.slow
def test_torchrun_two_processes_fri_equals_one_process(tmp_path):
    ckpt = tmp_path / "net.pt"
    assert (
        main(
            [
                "train",
                "--arch",
                "mvgg5",
                "--out",
                str(ckpt),
                "--size",
                "16",
                "--n-per-class",
                "12",
                "--epochs",
                "3",
                "--seed",
                "0",
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    args = [
        "fri",
        "--model",
        str(ckpt),
        "--n-images",
        "12",
        "--image-size",
        "24",
        "--ratios",
        "0.7",
        "0.8",
        "--sample",
        "3",
        "--kind",
        "shrink",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--no-progress",
    ]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*args, "--out", str(one / "maps"), "--export", str(one / "set")]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "model_eval",
    ]
    proc = subprocess.run(
        [*run, *args, "--out", str(two / "maps"), "--export", str(two / "set")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("exported") == 1  # only rank 0 writes the set and prints

    pd.testing.assert_frame_equal(
        pd.read_csv(one / "maps" / "fri_fractions.csv"), pd.read_csv(two / "maps" / "fri_fractions.csv")
    )
    for n in range(12):  # each rank wrote its own images' maps; together they are the one-process maps
        a, b = (
            np.load(one / "maps" / f"fri_maps_{n:03d}.npz"),
            np.load(two / "maps" / f"fri_maps_{n:03d}.npz"),
        )
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    key = ["source_id", "condition", "pair_id", "x", "y", "side"]
    sets = [stimuli.load_stimulus_set(d / "set") for d in (one, two)]
    rows = [s.manifest.sort_values(key).reset_index(drop=True) for s in sets]
    pd.testing.assert_frame_equal(rows[0][key], rows[1][key])
    assert len(rows[0]) == 6
    for r0, r1 in zip(rows[0].itertuples(), rows[1].itertuples(), strict=True):  # same pixels, fresh ids
        np.testing.assert_array_equal(sets[0].image(r0.stimulus_id), sets[1].image(r1.stimulus_id))
