"""Data-parallel training and sharded evaluation under torchrun (gloo on CPU), and the GPU path."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from model_eval.nets.checkpoint import load_checkpoint
from tests.model_eval.test_cli import _stimulus_set


@pytest.mark.slow
def test_torchrun_two_processes_train_and_predict(tmp_path):
    ckpt = tmp_path / "ddp.pt"
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
    train = subprocess.run(
        [
            *run,
            "train",
            "--arch",
            "mvgg5",
            "--out",
            str(ckpt),
            "--n-per-class",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--device",
            "cpu",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    assert load_checkpoint(ckpt).data["history"][0]["epoch"] == 1
    set_dir = _stimulus_set(tmp_path / "set", n_per_class=1)
    out = tmp_path / "pred.csv"
    pred = subprocess.run(
        [
            *run,
            "predict",
            "--model",
            str(ckpt),
            "--stimuli",
            str(set_dir),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert pred.returncode == 0, pred.stderr[-2000:]
    sharded = pd.read_csv(out)
    # the two ranks' shards, gathered, equal a single-process run on every stimulus
    from model_eval import predict_stimulus_set

    single = predict_stimulus_set([ckpt], set_dir, device="cpu", progress=False)
    assert list(sharded["stimulus_id"]) == list(single["stimulus_id"])
    assert (sharded["response"].to_numpy() == single["response"].to_numpy()).all()


@pytest.mark.needs_cuda
def test_cuda_predictions_agree_with_cpu(tmp_path):
    from model_eval.cli import main

    ckpt = tmp_path / "gpu.pt"
    assert (
        main(
            [
                "train",
                "--arch",
                "mvgg5",
                "--out",
                str(ckpt),
                "--n-per-class",
                "3",
                "--epochs",
                "1",
                "--device",
                "cuda",
                "--no-progress",
            ]
        )
        == 0
    )
    set_dir = _stimulus_set(tmp_path / "set")
    from model_eval import predict_stimulus_set

    gpu = predict_stimulus_set([ckpt], set_dir, device="cuda", progress=False)
    cpu = predict_stimulus_set([ckpt], set_dir, device="cpu", progress=False)
    assert torch.cuda.is_available()
    # bf16 autocast on the GPU: probabilities agree with the fp32 CPU run to bf16 precision
    assert list(gpu["stimulus_id"]) == list(cpu["stimulus_id"])
    assert (gpu["confidence"] - cpu["confidence"]).abs().max() < 0.05
    assert (gpu["prob_true"] - cpu["prob_true"]).abs().max() < 0.05
