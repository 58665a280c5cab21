"""Command line: python -m stimuli {build,validate,preview,sources} (--help on each)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .builder import AGHDAM_SIGMAS, COLOR_CONDITIONS, PRESETS, build, parse_legend_index, preset_config
from .errors import DataSourceError, StimulusSetError
from .preview import contact_sheet
from .sources import SOURCE_NAMES
from .stimulus_set import validate_stimulus_set

PRESET_HELP = (
    "negative: Hosseini et al. 2017 - regular, negative, gray, gray_negative (4 sources/class)"
    " + ~10%% catch; "
    f"noise: Aghdam et al. 2016 - regular + Gaussian noise sigma {','.join(map(str, AGHDAM_SIGMAS))} on the "
    "0-255 scale, PSNR recorded (2 sources/class) + catch; regular: 5 clear images/class + catch"
)


def _csv_floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def _csv_conditions(text: str) -> tuple[str, ...]:
    vals = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in vals if v not in COLOR_CONDITIONS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown conditions {bad}; choose from {','.join(COLOR_CONDITIONS)}"
        )
    return vals


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stimuli", description="Generate, check and preview stimulus sets."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "build",
        help="build a stimulus set from a preset",
        description="Build a stimulus set. " + PRESET_HELP.replace("%%", "%"),
    )
    b.add_argument("--preset", required=True, choices=sorted(PRESETS), help=PRESET_HELP)
    b.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    b.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for the images: sources, catch trials, noise (default: a fresh secret seed, recorded in "
        "stimulus_set.json; give one only to reproduce a set, never for a set people will see); ids and "
        "row order are random",
    )
    b.add_argument("--n-per-class", type=int, help="source images per class (default: the preset's)")
    b.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    b.add_argument(
        "--source", choices=SOURCE_NAMES, default="synthetic", help="image source (default synthetic)"
    )
    b.add_argument("--root", help="data set root for real sources (gtsrb, mnist, cifar10, imagefolder)")
    b.add_argument("--split", help="split to draw sources from (default test)")
    b.add_argument(
        "--conditions", type=_csv_conditions, help="override the colour conditions, comma-separated"
    )
    b.add_argument(
        "--sigmas", type=_csv_floats, help="override the noise sigmas (0-255 scale), comma-separated"
    )
    b.add_argument(
        "--catch-fraction",
        type=float,
        help="share of a participant's trials that are catch trials (default 0.1)",
    )
    b.add_argument("--equalize", action="store_true", help="histogram-equalise sources first")
    b.add_argument("--roi-crop", action="store_true", help="crop GTSRB images to their annotated ROI")
    b.add_argument(
        "--legend-index",
        action="append",
        default=[],
        metavar="CLASS:INDEX",
        help="use source image INDEX as the legend of CLASS (repeatable; default: sharpest image)",
    )
    b.add_argument("--download", action="store_true", help="allow torchvision to download the data set")
    b.add_argument("--no-progress", action="store_true", help="hide progress bars")

    v = sub.add_parser(
        "validate",
        help="check a stimulus set",
        description="Check a stimulus set: files, hashes, "
        "manifest columns and types, no label text in file names or PNG chunks, no extra files.",
    )
    v.add_argument("dir", help="stimulus set directory")

    p = sub.add_parser(
        "preview",
        help="write a contact sheet",
        description="Write a contact sheet PNG: the legend, then a sample of stimuli per condition.",
    )
    p.add_argument("dir", help="stimulus set directory")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--per-condition", type=int, default=16, help="stimuli shown per condition (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed for the sample shown")

    sub.add_parser("presets", help="list the presets", description="List the presets and what they build.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.command == "presets":
            for name, cfg in PRESETS.items():
                print(
                    f"{name}: family={cfg.family} conditions={','.join(cfg.conditions)} "
                    f"sigmas={','.join(f'{s:g}' for s in cfg.sigmas) or '-'} n_per_class={cfg.n_per_class} "
                    f"catch_fraction={cfg.catch_fraction}"
                )
            return 0
        if args.command == "validate":
            problems = validate_stimulus_set(args.dir)
            if problems:
                for line in problems:
                    print(line)
                return 1
            print("valid")
            return 0
        if args.command == "preview":
            out = contact_sheet(args.dir, args.out, per_condition=args.per_condition, seed=args.seed)
            print(f"wrote {out}")
            return 0
        cfg = preset_config(
            args.preset,
            seed=args.seed,
            n_per_class=args.n_per_class,
            size=args.size,
            source=args.source,
            root=args.root,
            split=args.split,
            conditions=args.conditions,
            sigmas=args.sigmas,
            catch_fraction=args.catch_fraction,
            equalize=args.equalize or None,
            roi_crop=args.roi_crop or None,
            legend_index=parse_legend_index(args.legend_index) or None,
            download=args.download or None,
        )
        out = build(cfg, args.out, progress=not args.no_progress)
        print(f"wrote stimulus set {out}")
        return 0
    except (DataSourceError, StimulusSetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
