"""``python -m model_eval train``: parse the options, call :func:`model_eval.training.train`, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from model_eval.commandline import command


@command(
    "train",
    short_help="train a network (or an ensemble) on an image source",
    help="Train on a stimuli image source; writes one checkpoint file.",
)
@click.option("--arch", default="mvgg8", help="architecture name (see `models`)")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="checkpoint file to write (rewritten every epoch)",
)
@click.option("--resume", is_flag=True, help="continue the run stored in --out")
@click.option("--source", default="synthetic", help="stimuli source: synthetic, gtsrb, mnist, cifar10, ...")
@click.option("--root", default=None, help="data set folder for real sources")
@click.option(
    "--size",
    type=int,
    default=None,
    help="network input side in pixels (small networks; default 32, 28 for hosseini_dnn)",
)
@click.option("--n-per-class", type=int, default=150, help="training images per class (synthetic)")
@click.option("--seed", type=int, default=0)
@click.option("--epochs", type=int, default=None, help="epochs per member (default 5; presets differ)")
@click.option(
    "--target-accuracy",
    type=float,
    default=None,
    help="stop a member once its validation accuracy reaches this (0-1)",
)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="early stop after this wall time: the checkpoint stays resumable, never done",
)
@click.option("--batch-size", type=int, default=None, help="default 64 (16 for the paper MVGGs)")
@click.option("--lr", type=float, default=None, help="peak learning rate (3e-3; 2e-3 for hosseini_dnn)")
@click.option(
    "--val-fraction",
    type=float,
    default=None,
    help="validation images held out per class (default 0.2, as Hosseini et al.)",
)
@click.option("--gray", is_flag=True, help="train on gray (BT.601 luma) images")
@click.option("--equalize", is_flag=True, help="histogram-equalise every input (training and prediction)")
@click.option("--translate", type=int, default=0, help="augment: random shifts up to N px")
@click.option("--reflect", is_flag=True, help="augment: random left-right reflections")
@click.option("--negatives", type=int, default=0, help="add N negative images to the regular ones")
@click.option(
    "--negatives-only",
    is_flag=True,
    help="train on negatives only (fine-tune with --init, or from scratch)",
)
@click.option(
    "--n-negatives",
    type=int,
    default=None,
    help="with --negatives-only: this many negatives, spread over the classes (default all)",
)
@click.option("--noise-copies", type=int, default=0, help="add N noisy copies per image at mixed sigma")
@click.option("--fgsm-eps", type=float, default=0.0, help="FGSM adversarial training epsilon ([0,1] scale)")
@click.option("--ensemble", type=int, default=1, help="train K independently initialised networks")
@click.option("--init", default=None, help="start from this checkpoint's weights (fine-tuning)")
@click.option("--weights", default=None, help="local weights file for torchvision architectures")
@click.option("--name", default=None, help="model name written to predictions (default: arch[-tag])")
@click.option("--tag", default=None)
@click.option("--device", default=None, help="cpu, cuda, mps (default: best available)")
@click.option("--no-progress", is_flag=True)
def train_command(
    out: Path, resume: bool, gray: bool, equalize: bool, no_progress: bool, **options: Any
) -> int:
    from model_eval.runtime import distributed
    from model_eval.training import TrainingStopped, train, train_config

    # a flag left out takes the preset (None), as argparse's store_true with default None did
    cfg = train_config(**options, gray=gray or None, equalize=equalize or None, progress=not no_progress)
    try:
        result = train(cfg, out, resume=resume)
    except TrainingStopped as exc:
        print(f"stopped early: {exc}", file=sys.stderr)
        return 3
    if distributed.rank_and_world()[0] == 0:
        print(
            f"wrote {result.checkpoint} (done; validation accuracy {result.val_accuracy:.4f}, "
            f"negative {result.val_negative_accuracy:.4f}; "
            f"imbalance-aware chance level {result.val_chance:.4f})"
        )
    return 0
