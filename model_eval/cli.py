"""``python -m model_eval``: train, predict, fri, noise, min-noise, fool, models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_eval import fooling_cli
from model_eval.checkpoint import CheckpointError, load_checkpoint
from model_eval.noise import SIGMAS
from model_eval.predict import StimulusSetInvalid
from model_eval.registry import UnknownModelError
from model_eval.torchvision_models import WeightsFileError

if TYPE_CHECKING:
    from model_eval.checkpoint import LoadedCheckpoint
    from model_eval.fri_report import PairSelection
    from model_eval.training import TrainConfig
    from stimuli import ImageSource


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a network (or an ensemble) on an image source",
        description="Train on a stimuli image source; writes one checkpoint file.",
    )
    p.add_argument("--arch", default="mvgg8", help="architecture name (see `models`)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint file to write (rewritten every epoch)")
    p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    p.add_argument(
        "--source", default="synthetic", help="stimuli source: synthetic, gtsrb, mnist, cifar10, ..."
    )
    p.add_argument("--root", default=None, help="data set folder for real sources")
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="network input side in pixels (small networks; default 32, 28 for hosseini_dnn)",
    )
    p.add_argument("--n-per-class", type=int, default=150, help="training images per class (synthetic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="epochs per member (default 5; presets differ)")
    p.add_argument(
        "--target-accuracy",
        type=float,
        default=None,
        help="stop a member once its validation accuracy reaches this (0-1)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="early stop after this wall time: the checkpoint stays resumable, never done",
    )
    p.add_argument("--batch-size", type=int, default=None, help="default 64 (16 for the paper MVGGs)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (3e-3; 2e-3 for hosseini_dnn)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="validation images held out per class (default 0.2, as Hosseini et al.)",
    )
    p.add_argument("--gray", action="store_true", default=None, help="train on gray (BT.601 luma) images")
    p.add_argument(
        "--equalize",
        action="store_true",
        default=None,
        help="histogram-equalise every input (training and prediction)",
    )
    p.add_argument("--translate", type=int, default=0, help="augment: random shifts up to N px")
    p.add_argument("--reflect", action="store_true", help="augment: random left-right reflections")
    p.add_argument("--negatives", type=int, default=0, help="add N negative images to the regular ones")
    p.add_argument(
        "--negatives-only",
        action="store_true",
        help="train on negatives only (fine-tune with --init, or from scratch)",
    )
    p.add_argument(
        "--n-negatives",
        type=int,
        default=None,
        help="with --negatives-only: this many negatives, spread over the classes (default all)",
    )
    p.add_argument("--noise-copies", type=int, default=0, help="add N noisy copies per image at mixed sigma")
    p.add_argument(
        "--fgsm-eps", type=float, default=0.0, help="FGSM adversarial training epsilon ([0,1] scale)"
    )
    p.add_argument("--ensemble", type=int, default=1, help="train K independently initialised networks")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--weights", default=None, help="local weights file for torchvision architectures")
    p.add_argument("--name", default=None, help="model name written to predictions (default: arch[-tag])")
    p.add_argument("--tag", default=None)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--no-progress", action="store_true")


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict every stimulus of a set with one or more checkpoints",
        description="Write predictions.csv (model, stimulus_id, response, confidence, "
        "prob_true, top1..top5) and print accuracy per model x condition.",
    )
    p.add_argument("--model", nargs="+", required=True, type=Path, help="checkpoint file(s)")
    p.add_argument("--stimuli", required=True, type=Path, help="stimulus set directory")
    p.add_argument("--out", required=True, type=Path, help="predictions CSV to write")
    p.add_argument("--name", nargs="+", default=None, help="model names (one per checkpoint)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")


def _image_args(p: argparse.ArgumentParser, n_default: int, size_default: int | None) -> None:
    p.add_argument("--model", required=True, type=Path, help="checkpoint file")
    p.add_argument("--source", default="synthetic")
    p.add_argument("--root", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--n-images", type=int, default=n_default, help="images analysed (spread over classes)")
    p.add_argument(
        "--image-size",
        type=int,
        default=size_default,
        help="side of the analysed images (default: the network input size)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")


def _fri_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fri",
        help="fragile-recognition maps and FRI pairs (Srivastava et al. 2019)",
        description="Classify every square crop per region side; write npz + PNG maps, "
        "fri_fractions.csv, and optionally the FRI pairs as a stimulus set.",
    )
    _image_args(p, 4, 48)
    p.add_argument(
        "--ratios",
        type=float,
        nargs="+",
        default=[0.6, 0.7, 0.8, 0.9],
        help="region side as a proportion of the image side",
    )
    p.add_argument(
        "--sides", type=int, nargs="+", default=None, help="region sides in px (instead of --ratios)"
    )
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--out", required=True, type=Path, help="folder for maps and figures")
    p.add_argument("--export", type=Path, default=None, help="write the FRI pairs as a stimulus set here")
    p.add_argument(
        "--pairs-per-kind",
        type=int,
        default=2,
        help="without --sample: pairs exported per image, ratio and kind; strict FRIs first",
    )
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        help="draw N pairs at random over all images and ratios (seeded by --seed)",
    )
    p.add_argument(
        "--kind",
        choices=("shift", "shrink", "both"),
        default="both",
        help="which changes make the exported pairs (default both)",
    )
    p.add_argument(
        "--strictness",
        choices=("loose", "strict"),
        default="loose",
        help="export loose FRIs (some change flips; includes strict ones) or strict ones only",
    )
    p.add_argument(
        "--topk",
        type=int,
        choices=(1, 5),
        default=1,
        help="a crop is correct when its label is the top-1 (or among the top-5) classes",
    )
    p.add_argument(
        "--groups",
        default=None,
        help="label groups people answer among: gtsrb_superclasses or a class_id,group CSV",
    )
    p.add_argument(
        "--preset",
        choices=("srivastava",),
        default=None,
        help="srivastava: --sample 40 --kind shrink (Srivastava et al. 2019); options given win",
    )


def _noise_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "noise",
        help="accuracy vs Gaussian noise sigma / PSNR (Aghdam et al. 2016)",
        description="Sweep sigma; write noise_summary.csv, noise_per_class.csv, noise.png.",
    )
    _image_args(p, 430, None)
    p.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS))
    p.add_argument("--draws", type=int, default=1, help="noisy draws per image and sigma")
    p.add_argument("--out", required=True, type=Path)

    m = sub.add_parser(
        "min-noise",
        help="evolutionary minimum-noise search (Aghdam et al. 2016)",
        description="Genetic algorithm for the smallest noise that flips each image's class.",
    )
    _image_args(m, 3, None)
    m.add_argument("--population", type=int, default=40)
    m.add_argument("--max-iterations", type=int, default=500)
    m.add_argument("--patience", type=int, default=50)
    m.add_argument("--lam", type=float, default=0.05, help="lambda: weight of ||r||_2 in the fitness")
    m.add_argument(
        "--beta",
        type=float,
        default=None,
        help="beta of psi while still classified as c (default: the number of classes)",
    )
    m.add_argument("--out", required=True, type=Path, help="CSV of results")


def _reproduce_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce",
        help="rerun a seed paper's experiments beside its tables",
        description="Hosseini et al. 2017 (negative images) or Aghdam et al. 2016 (noise): "
        "train, test, and write report.html + CSVs with the paper's numbers "
        "beside ours.",
    )
    p.add_argument("paper", choices=["hosseini", "aghdam"])
    p.add_argument("--source", default="synthetic", help="synthetic (default), gtsrb, mnist, cifar10")
    p.add_argument("--root", default=None, help="data set folder for a real source")
    p.add_argument("--mnist-root", default=None, help="hosseini: LeNet-5 on MNIST from this folder")
    p.add_argument("--out", type=Path, default=None, help="report folder (default artifacts/reproduce/PAPER)")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="time budget shared by the training runs (stopped runs are reported and resumable)",
    )
    p.add_argument("--networks", nargs="+", default=None, help="hosseini: networks of Table II")
    p.add_argument("--arch", default="mvgg8", help="aghdam: network to train (or --model)")
    p.add_argument("--model", default=None, help="aghdam: use this checkpoint instead of training")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--finetune-epochs", type=int, default=5)
    p.add_argument(
        "--finetune-per-class",
        type=int,
        nargs="+",
        default=None,
        help="hosseini: N negatives per class for the fine-tuning sweep (default 1 5 20)",
    )
    p.add_argument("--n-per-class", type=int, default=150, help="training images per class")
    p.add_argument("--test-per-class", type=int, default=30, help="test images per class")
    p.add_argument("--n-search", type=int, default=86, help="aghdam: images for the minimum-noise search")
    p.add_argument("--population", type=int, default=40)
    p.add_argument("--max-iterations", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list registered architectures", description="List architectures.")
    _train_parser(sub)
    _predict_parser(sub)
    _fri_parser(sub)
    _noise_parser(sub)
    fooling_cli.add_parser(sub)
    _reproduce_parser(sub)
    return parser


def _cmd_models(args: argparse.Namespace) -> int:
    from model_eval.registry import get_entry, list_models

    for name in list_models():
        note = " (weights from a local file: --weights PATH)" if get_entry(name).needs_weights_file else ""
        print(f"{name}{note}")
    return 0


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of ``train``'s arguments: an option left out takes the architecture's preset."""
    from model_eval.training import PRESETS, TrainConfig

    preset = PRESETS.get(args.arch, {})

    def pick(name: str) -> Any:  # the option, else the preset, else the field default
        value = getattr(args, name)
        return value if value is not None else preset.get(name, getattr(TrainConfig, name))

    return TrainConfig(
        arch=args.arch,
        source=args.source,
        root=args.root,
        size=pick("size"),
        n_per_class=args.n_per_class,
        seed=args.seed,
        epochs=pick("epochs"),
        target_accuracy=args.target_accuracy,
        batch_size=pick("batch_size"),
        lr=pick("lr"),
        val_fraction=pick("val_fraction"),
        gray=pick("gray"),
        equalize=pick("equalize"),
        translate=args.translate,
        reflect=args.reflect,
        negatives=args.negatives,
        negatives_only=args.negatives_only,
        n_negatives=args.n_negatives,
        noise_copies=args.noise_copies,
        fgsm_eps=args.fgsm_eps,
        ensemble=args.ensemble,
        init=args.init,
        weights=args.weights,
        max_minutes=args.max_minutes,
        name=args.name,
        tag=args.tag,
        device=args.device,
        progress=not args.no_progress,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from model_eval import distributed
    from model_eval.training import TrainingStopped, train

    cfg = train_config(args)
    try:
        path = train(cfg, args.out, resume=args.resume)
    except TrainingStopped as exc:
        print(f"stopped early: {exc}", file=sys.stderr)
        return 3
    if distributed.rank_and_world()[0] == 0:
        data = load_checkpoint(path).data
        hist = data["history"]
        last = hist[-1] if hist else {}
        print(
            f"wrote {path} (done; validation accuracy {last.get('val_accuracy', float('nan')):.4f}, "
            f"negative {last.get('val_negative_accuracy', float('nan')):.4f}; "
            f"imbalance-aware chance level {last.get('val_chance', float('nan')):.4f})"
        )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from model_eval import distributed
    from model_eval.predict import accuracy_table, load_valid_stimulus_set, predict_on_set

    distributed.init_if_needed(args.device)
    set_ = load_valid_stimulus_set(args.stimuli)
    df = predict_on_set(
        args.model,
        set_,
        names=args.name,
        device=args.device,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    if distributed.rank_and_world()[0] != 0:
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    table = accuracy_table(df, set_.manifest)
    from model_eval.metrics import chance_level

    m = set_.manifest[~set_.manifest["catch"].astype(str).str.lower().isin({"true", "1"})]
    table.loc["chance (imbalance-aware)"] = m.groupby("condition")["label"].apply(
        lambda labels: chance_level(labels.astype(int))
    )
    print(f"accuracy per model x condition ({args.stimuli}):")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {args.out} ({len(df)} rows)")
    return 0


def _load_images(
    args: argparse.Namespace, size: int
) -> tuple[ImageSource, np.ndarray, np.ndarray, list[str]]:
    """``--n-images`` images of a source split, spread evenly over the classes (seeded)."""
    import stimuli

    src = stimuli.get_source(args.source, root=args.root, split=args.split, size=size, seed=args.seed)
    labels = np.asarray(src.labels)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(labels))
    # round-robin over classes so a few images still cover several classes
    by_class: dict[int, list[int]] = {}
    for i in order:
        by_class.setdefault(int(labels[i]), []).append(int(i))
    picked: list[int] = []
    while len(picked) < min(args.n_images, len(labels)):
        for lst in by_class.values():
            if lst and len(picked) < args.n_images:
                picked.append(lst.pop())
    images = src.images(picked)
    return src, images, labels[picked], [f"{src.name}:{args.split}:{i}" for i in picked]


def _fri_selection(args: argparse.Namespace) -> PairSelection:
    """The pair selection from the options, a preset filling what the user left unset."""
    from model_eval.fri_paper import PRESETS
    from model_eval.fri_report import PairSelection

    preset = PRESETS.get(args.preset or "", {})
    sample = args.sample if args.sample is not None else preset.get("sample")
    kind = args.kind if args.kind != "both" or not preset else preset["kind"]
    kinds = ("shift", "shrink") if kind == "both" else (kind,)
    return PairSelection(
        kinds=kinds,
        strictness=args.strictness,
        sample=sample,
        per_image=args.pairs_per_kind,
        seed=args.seed,
        topk=args.topk,
    )


def _cmd_fri(args: argparse.Namespace) -> int:
    import stimuli
    from model_eval import distributed
    from model_eval.device import pick_device
    from model_eval.fri_report import run_fri

    selection = _fri_selection(args)  # option errors before anything expensive
    if args.export is not None and args.export.exists() and any(args.export.iterdir()):
        raise ValueError(f"--export directory {args.export} exists and is not empty")
    if args.groups is not None and args.export is None:
        raise ValueError("--groups declares label groups in the exported set: give --export too")
    _rank, _world, dist_device = distributed.init_if_needed(args.device)
    device = dist_device or pick_device(args.device)
    ckpt = load_checkpoint(args.model, device=device)
    size = args.image_size or ckpt.classifier.input_size
    src, images, labels, sids = _load_images(args, size)
    _check_source(ckpt, src, args.source)
    groups = stimuli.load_label_groups(args.groups, list(src.classes)) if args.groups else None
    ratios = [s / size for s in args.sides] if args.sides else args.ratios
    fractions, rows, pair_images = run_fri(
        ckpt,
        images,
        labels,
        sids,
        ratios=ratios,
        stride=args.stride,
        out_dir=args.out,
        device=device,
        model_name=ckpt.name,
        batch_size=args.batch_size,
        selection=selection,
        export=args.export is not None,
        progress=not args.no_progress,
    )
    if distributed.rank_and_world()[0] != 0:
        return 0
    summary = fractions.groupby(["ratio", "side"])[
        ["correct", "loose_shift", "strict_shift", "loose_shrink", "strict_shrink"]
    ].mean()
    print(f"FRI fractions ({ckpt.name}, {len(images)} images of {size}px; mean over images):")
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.export is not None:
        if not rows:
            raise ValueError("no FRI pairs were found, so there is no stimulus set to export")
        n_pairs = len(rows) // 2
        if selection.sample is not None and n_pairs < selection.sample:
            print(
                f"warning: only {n_pairs} of the {selection.sample} pairs asked for exist "
                f"({selection.strictness} {'/'.join(selection.kinds)} FRIs over {len(images)} images)",
                file=sys.stderr,
            )
        legend = {c.id: src.legend_image(c.id) for c in src.classes}
        params = {
            "model": ckpt.name,
            "ratios": ratios,
            "stride": args.stride,
            "image_size": size,
            "kinds": list(selection.kinds),
            "strictness": selection.strictness,
            "sample": selection.sample,
            "topk": selection.topk,
            "preset": args.preset,
        }
        stimuli.write_stimulus_set(
            args.export,
            rows,
            pair_images,
            list(src.classes),
            legend,
            name=f"fri-{ckpt.name}",
            seed=args.seed,
            source=src.name,
            params=params,
            label_groups=groups,
            progress=not args.no_progress,
        )
        print(f"exported {n_pairs} FRI pairs to {args.export}")
    print(f"maps in {args.out}")
    return 0


def _check_source(ckpt: LoadedCheckpoint, src: ImageSource, source: str) -> None:
    """fri/noise feed source images straight to the network: classes and channels must match."""
    n = len(src.classes)
    if ckpt.num_classes != n:
        raise CheckpointError(
            f"checkpoint {ckpt.path} is for {ckpt.num_classes} classes but source {source!r} has {n}"
        )
    if ckpt.in_channels != src.channels:
        raise CheckpointError(
            f"checkpoint {ckpt.path} takes {ckpt.in_channels}-channel images but source "
            f"{source!r} gives {src.channels}-channel images"
        )


def _cmd_noise(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model_eval.device import pick_device
    from model_eval.noise import noise_sweep

    device = pick_device(args.device)
    ckpt = load_checkpoint(args.model, device=device)
    src, images, labels, _ = _load_images(args, args.image_size or ckpt.classifier.input_size)
    _check_source(ckpt, src, args.source)
    sweep = noise_sweep(
        ckpt.classifier,
        images,
        labels,
        num_classes=ckpt.num_classes,
        sigmas=tuple(args.sigmas),
        draws=args.draws,
        seed=args.seed,
        device=device,
        progress=not args.no_progress,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    sweep.summary.assign(model=ckpt.name).to_csv(args.out / "noise_summary.csv", index=False)
    sweep.per_class.assign(model=ckpt.name).to_csv(args.out / "noise_per_class.csv", index=False)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sweep.summary["psnr_mean"], sweep.summary["accuracy"], "o-", label="accuracy")
    ax.plot(sweep.summary["psnr_mean"], sweep.summary["mean_confidence"], "s--", label="mean confidence")
    ax.set_xlabel("PSNR (dB)")
    ax.set_ylim(0, 1.02)
    ax.invert_xaxis()
    ax.legend()
    ax.set_title(f"{ckpt.name}: Gaussian noise")
    fig.tight_layout()
    fig.savefig(args.out / "noise.png", dpi=110)
    plt.close(fig)
    print(sweep.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _cmd_min_noise(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from model_eval.device import pick_device
    from model_eval.noise import GAConfig, minimum_noise_batch

    device = pick_device(args.device)
    ckpt = load_checkpoint(args.model, device=device)
    src, images, labels, sids = _load_images(args, args.image_size or ckpt.classifier.input_size)
    _check_source(ckpt, src, args.source)
    cfg = GAConfig(
        population=args.population,
        max_iterations=args.max_iterations,
        patience=args.patience,
        lam=args.lam,
        beta=args.beta,
    )
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    results = minimum_noise_batch(
        ckpt.classifier,
        x,
        [int(v) for v in labels],
        config=cfg,
        seed=args.seed,
        device=device,
        progress=not args.no_progress,
    )
    df = pd.DataFrame(
        [{"model": ckpt.name, "source_id": sid, **r.row()} for sid, r in zip(sids, results, strict=True)]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from model_eval.reproduce_cli import run_reproduce

    return run_reproduce(args)


COMMANDS = {
    "models": _cmd_models,
    "train": _cmd_train,
    "predict": _cmd_predict,
    "fri": _cmd_fri,
    "noise": _cmd_noise,
    "min-noise": _cmd_min_noise,
    "fool": fooling_cli.run,
    "reproduce": _cmd_reproduce,
}


def main(argv: Sequence[str] | None = None) -> int:
    import stimuli

    args = build_parser().parse_args(argv)
    user_errors = (
        UnknownModelError,
        CheckpointError,
        StimulusSetInvalid,
        WeightsFileError,
        stimuli.DataSourceError,
        stimuli.StimulusSetError,
        ValueError,
        FileNotFoundError,
    )
    try:
        return COMMANDS[args.command](args)
    except user_errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        from model_eval import distributed

        distributed.shutdown()
