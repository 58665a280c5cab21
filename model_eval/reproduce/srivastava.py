"""Srivastava et al. 2019 (fragile recognition images), rerun beside the paper.

What runs (numbers and readings in :mod:`model_eval.reproduce.papers.srivastava`):

- FRI maps (loose/strict x shift/shrink, exhaustive 1-px grid) over region sizes for every network,
  drawn as the paper's Figure 5 (shrink) and Figure A.1 (shift): FRI rate against region size, a line per
  network (``fri_rates.png``);
- the networks: a stand-in trained here (``arch``, default mvgg8, on synthetic signs or GTSRB), and the
  paper's VGG-16, ResNet(-50) and Inception (v3, torchvision's closest) on an ImageNet folder
  (``imagenet_root``, 1000 class folders in the standard order) where torchvision's ImageNet weights are
  already in its cache; never downloaded, each one absent is reported as skipped with the reason;
- the human-study export as the paper ran it: 40 randomly drawn shrink FRI pairs, FRI and partner for
  separate participant groups, answers among supercategories (the GTSRB superclasses stand in for the
  paper's 10 ImageNet supercategories on sign images).

Not rerun: the CIFAR-10 augmentation/regularisation and pooling experiments, the comparison with
Ullman et al.'s human minimal images, the YOLO examples (listed in the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch

from model_eval.fri.api import FriRun, fri_maps, pair_selection
from model_eval.fri.rates import fri_rates, plot_fri_rates
from model_eval.reproduce.common import Budget, Section, train_run
from model_eval.reproduce.papers.srivastava import (
    SRIVASTAVA_FRI,
    SRIVASTAVA_HUMAN_STUDY,
    SRIVASTAVA_ILLEGIBLE,
    SRIVASTAVA_NOT_REPRODUCED,
    SRIVASTAVA_PRESET,
)
from model_eval.training.loop import TrainConfig

if TYPE_CHECKING:
    from model_eval.reproduce.scorecard import ScorecardRow, ScorecardRun

PAPER = "Srivastava 2019"
# The paper's networks and the torchvision networks that stand for them.
IMAGENET_NETWORKS = {"VGG-16": "vgg16", "ResNet": "resnet50", "Inception": "inception_v3"}


@dataclass
class SrivastavaOptions:
    source: str = "synthetic"
    root: str | None = None
    arch: str = "mvgg8"
    model: str | None = None  # an existing checkpoint for the stand-in instead of training one
    n_per_class: int | None = 150
    epochs: int = 5
    image_size: int = 48
    n_images: int = 20
    ratios: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9)
    imagenet_root: str | None = None
    imagenet_images: int = 10
    imagenet_size: int = 256
    networks: Sequence[str] = field(default_factory=lambda: tuple(IMAGENET_NETWORKS))
    seed: int = 0
    device: str | None = None
    progress: bool = True


@dataclass
class SrivastavaRun:
    rates: pd.DataFrame  # network, ratio, FRI % per type, images
    pairs: int | None  # human-study pairs exported from the stand-in
    groups: int | None  # answer options of the export
    notes: list[str]


def _imagenet_checkpoint(paper_name: str, opts: SrivastavaOptions, out: Path) -> tuple[Path | None, str]:
    """A checkpoint of the torchvision network for ``paper_name`` with its cached ImageNet weights, or
    (None, why it is skipped)."""
    import stimuli
    from model_eval.nets.checkpoint import save_checkpoint
    from model_eval.nets.pretrained import cached_weights
    from model_eval.nets.registry import get_entry, get_model

    arch = IMAGENET_NETWORKS[paper_name]
    weights = cached_weights(arch)
    if weights is None:
        return None, f"{paper_name} ({arch}) skipped: torchvision's ImageNet weights are not in its cache"
    if opts.imagenet_root is None:
        return None, f"{paper_name} ({arch}) skipped: no ImageNet folder (--imagenet-root)"
    src = stimuli.get_source("imagefolder", root=opts.imagenet_root, size=None, seed=opts.seed)
    if len(src.classes) != 1000:
        return (
            None,
            f"{paper_name} ({arch}) skipped: {len(src.classes)} class folders in --imagenet-root, not 1000",
        )
    path = out / "models" / f"{arch}_imagenet.pt"
    if not path.is_file():
        entry = get_entry(arch)
        net = get_model(arch, num_classes=1000, weights=weights)
        save_checkpoint(
            path,
            arch=arch,
            name=arch,
            members=[net],
            num_classes=1000,
            in_channels=3,
            preprocessing=entry.preprocessing,
            classes=[{"id": int(c.id), "name": str(c.name)} for c in src.classes],
            config={"weights": str(weights)},
            source="imagefolder",
        )
    return path, f"{paper_name}: torchvision {arch}, ImageNet weights {weights.name}"


def run_fri_rates(opts: SrivastavaOptions, out: Path, budget: Budget) -> SrivastavaRun:
    """FRI rates per network and region size, the figure, and the human-study export of the stand-in."""
    notes = []
    if opts.model:
        stand_in = Path(opts.model)
        notes.append(f"stand-in network: {opts.model}")
    else:
        cfg = TrainConfig.with_preset(
            opts.arch,
            source=opts.source,
            root=opts.root,
            n_per_class=opts.n_per_class,
            seed=opts.seed,
            epochs=opts.epochs,
            device=opts.device,
            progress=opts.progress,
        )
        run = train_run(cfg, out / "models" / f"{opts.arch}.pt", budget, 1.0, 1.0, None)
        stand_in = run.path
        notes.append(
            f"stand-in network: {opts.arch} trained {run.epochs_done} epochs on {opts.source}"
            + (" (stopped early by --max-minutes)" if run.stopped_early else "")
        )

    def maps(model: Path, folder: str, **kwargs: Any) -> FriRun:
        return fri_maps(
            model,
            out / "maps" / folder,
            ratios=opts.ratios,
            seed=opts.seed,
            device=opts.device,
            progress=opts.progress,
            **kwargs,
        )

    own = {"source": opts.source, "root": opts.root, "n_images": opts.n_images, "image_size": opts.image_size}
    try:
        first = maps(
            stand_in,
            "stand_in",
            export=out / "human_study_set",
            selection=pair_selection(seed=opts.seed, preset="srivastava"),
            preset="srivastava",
            **own,
        )
    except ValueError as exc:  # maps without a single FRI pair: report zero pairs, keep the rates
        if "no FRI pairs" not in str(exc):
            raise
        notes.append("no shrink FRI pair on the stand-in's maps, so no human-study set")
        first = maps(stand_in, "stand_in", **own)
    fractions = [first.fractions.assign(model=f"{first.model} (stand-in, {opts.source})")]
    pairs, groups = first.exported_pairs or 0, None
    if first.export is not None:
        import stimuli

        groups = len(stimuli.load_stimulus_set(first.export).meta["label_groups"]["groups"])
    for paper_name in opts.networks:
        ckpt, note = _imagenet_checkpoint(paper_name, opts, out)
        notes.append(note)
        if ckpt is None:
            continue
        run_i = maps(
            ckpt,
            IMAGENET_NETWORKS[paper_name],
            source="imagefolder",
            root=opts.imagenet_root,
            n_images=opts.imagenet_images,
            image_size=opts.imagenet_size,
        )
        fractions.append(run_i.fractions.assign(model=f"{paper_name} ({IMAGENET_NETWORKS[paper_name]})"))
    rates = fri_rates(pd.concat(fractions, ignore_index=True))
    return SrivastavaRun(rates, pairs, groups, notes)


def run_srivastava(opts: SrivastavaOptions, out: Path, budget: Budget, device: torch.device) -> list[Section]:
    """The report's sections: FRI rates (table + figure), the human-study export, what is not rerun."""
    del device  # fri_maps picks the device from opts.device, as the fri command does
    out.mkdir(parents=True, exist_ok=True)
    run = run_fri_rates(opts, out, budget)
    plot_fri_rates(
        run.rates, out / "fri_rates.png", "FRI rate against region size (Srivastava et al. 2019 layout)"
    )
    rates = run.rates.round(2)
    study = pd.DataFrame(
        [
            {"quantity": "FRI pairs shown", "paper": SRIVASTAVA_HUMAN_STUDY["pairs"], "ours": run.pairs},
            {
                "quantity": "FRI type",
                "paper": SRIVASTAVA_HUMAN_STUDY["kind"],
                "ours": SRIVASTAVA_PRESET["kind"],
            },
            {
                "quantity": "participants per crop group",
                "paper": SRIVASTAVA_HUMAN_STUDY["participants_per_group"],
                "ours": SRIVASTAVA_PRESET["viewers_per_crop"],
            },
            {
                "quantity": "answer options",
                "paper": f"{SRIVASTAVA_HUMAN_STUDY['answer_labels']} ImageNet supercategories",
                "ours": f"{run.groups} GTSRB superclasses" if run.groups else "n/a",
            },
        ]
    )
    return [
        Section(
            "FRI rate (% of regions) against region size, per network (paper: Figure 5 and Figure A.1, "
            "curves only)",
            rates,
            "fri_rates.csv",
            "; ".join(run.notes) + f". Paper networks: {', '.join(SRIVASTAVA_FRI['networks'])} on ImageNet.",
            ["fri_rates.png"],
        ),
        Section(
            "Human study as the paper ran it (Section 5)",
            study,
            "human_study.csv",
            "The exported set (human_study_set/) shows each FRI and its partner to separate groups. "
            "Illegible in our text copy of the paper: " + "; ".join(SRIVASTAVA_ILLEGIBLE) + ".",
        ),
        Section(
            "Experiments of the paper not rerun here",
            pd.DataFrame({"experiment": list(SRIVASTAVA_NOT_REPRODUCED)}),
            "not_rerun.csv",
        ),
    ]


def scorecard(run: ScorecardRun) -> list[ScorecardRow]:
    """The human-study counts beside the paper's, and our FRI rates per network and region size (the
    paper draws its rates as curves only, so those rows carry no paper value)."""
    from model_eval.reproduce.common import write_report
    from model_eval.reproduce.scorecard import ScorecardRow

    source = "gtsrb" if "gtsrb" in run.roots else "synthetic"
    opts = SrivastavaOptions(
        source=source,
        root=run.roots.get(source),
        imagenet_root=run.roots.get("imagenet"),
        seed=run.seed,
        device=run.device,
        progress=run.progress,
    )
    if run.quick:
        opts.n_per_class, opts.epochs, opts.n_images, opts.image_size = 20, 1, 4, 32
        opts.ratios, opts.imagenet_images = (0.6, 0.8), 1
    out = run.out / "srivastava"
    sections = run_srivastava(opts, out, Budget(run.max_minutes), torch.device("cpu"))
    write_report(
        out, f"{PAPER}: paper and ours", "The paper's numbers beside ours.", sections, {"source": source}
    )
    ours_data = "synthetic signs" if source == "synthetic" else "GTSRB"
    rows: list[ScorecardRow] = []
    for r in sections[1].table.to_dict("records"):
        if isinstance(r["paper"], int):
            rows.append(
                ScorecardRow(
                    paper=PAPER,
                    where=str(SRIVASTAVA_HUMAN_STUDY["where"]),
                    quantity=str(r["quantity"]),
                    network=opts.arch,
                    paper_dataset="ImageNet",
                    our_dataset=ours_data,
                    paper_data=False,
                    paper_value=float(r["paper"]),
                    our_value=None if r["ours"] is None else float(r["ours"]),
                    note="pairs found on the stand-in's maps" if r["quantity"] == "FRI pairs shown" else "",
                )
            )
    for r in sections[0].table.to_dict("records"):
        for kind in ("loose_shrink", "strict_shrink"):
            imagenet = not str(r["network"]).startswith(opts.arch)
            rows.append(
                ScorecardRow(
                    paper=PAPER,
                    where="Srivastava 2019, Figure 5",
                    quantity=f"{kind.replace('_', ' ')} FRIs %, region side {r['ratio']:g} x image side",
                    network=str(r["network"]),
                    paper_dataset="ImageNet",
                    our_dataset="ImageNet" if imagenet else ours_data,
                    paper_data=imagenet,
                    paper_value=None,
                    our_value=float(r[kind]),
                    note="the paper draws this as a curve; no value in its text",
                )
            )
    return rows
