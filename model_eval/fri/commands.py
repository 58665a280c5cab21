"""``python -m model_eval fri``: parse the options, call :func:`model_eval.fri.fri_maps`, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from model_eval.commandline import command, image_options


@command(
    "fri",
    variadic=("--ratios", "--sides"),
    short_help="fragile-recognition maps and FRI pairs (Srivastava et al. 2019)",
    help="Classify every square crop per region side; write npz + PNG maps, "
    "fri_fractions.csv, and optionally the FRI pairs as a stimulus set.",
)
@image_options(n_default=4, size_default=48)
@click.option(
    "--ratios",
    type=float,
    multiple=True,
    default=(0.6, 0.7, 0.8, 0.9),
    show_default=True,
    help="region side as a proportion of the image side",
)
@click.option("--sides", type=int, multiple=True, help="region sides in px (instead of --ratios)")
@click.option("--stride", type=int, default=1)
@click.option("--batch-size", type=int, default=512)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="folder for maps and figures")
@click.option(
    "--export",
    type=click.Path(path_type=Path),
    default=None,
    help="write the FRI pairs as a stimulus set here",
)
@click.option(
    "--pairs-per-kind",
    type=int,
    default=2,
    help="without --sample: pairs exported per image, ratio and kind; strict FRIs first",
)
@click.option(
    "--sample",
    type=int,
    default=None,
    help="draw N pairs at random over all images and ratios (seeded by --seed)",
)
@click.option(
    "--kind",
    type=click.Choice(("shift", "shrink", "both")),
    default="both",
    help="which changes make the exported pairs (default both)",
)
@click.option(
    "--strictness",
    type=click.Choice(("loose", "strict")),
    default="loose",
    help="export loose FRIs (some change flips; includes strict ones) or strict ones only",
)
@click.option(
    "--topk",
    type=click.Choice(("1", "5")),
    default="1",
    help="a crop is correct when its label is the top-1 (or among the top-5) classes",
)
@click.option(
    "--groups",
    default=None,
    help="label groups people answer among: gtsrb_superclasses or a class_id,group CSV",
)
@click.option(
    "--preset",
    type=click.Choice(("srivastava",)),
    default=None,
    help="srivastava: --sample 40 --kind shrink (Srivastava et al. 2019), and with --export the GTSRB "
    "superclasses as answers (the paper used 10 ImageNet supercategories); options given win",
)
def fri_command(
    model: Path,
    source: str,
    root: str | None,
    split: str,
    n_images: int,
    image_size: int | None,
    seed: int,
    device: str | None,
    no_progress: bool,
    ratios: tuple[float, ...],
    sides: tuple[int, ...],
    stride: int,
    batch_size: int,
    out: Path,
    export: Path | None,
    pairs_per_kind: int,
    sample: int | None,
    kind: str,
    strictness: str,
    topk: str,
    groups: str | None,
    preset: str | None,
) -> int:
    from model_eval.fri import fri_maps, pair_selection

    selection = pair_selection(  # option errors before anything expensive
        kind=kind,
        strictness=strictness,
        sample=sample,
        pairs_per_kind=pairs_per_kind,
        seed=seed,
        topk=int(topk),
        preset=preset,
    )
    run = fri_maps(
        model,
        out,
        source=source,
        root=root,
        split=split,
        n_images=n_images,
        image_size=image_size,
        ratios=ratios,
        sides=sides or None,
        stride=stride,
        batch_size=batch_size,
        export=export,
        selection=selection,
        groups=groups,
        preset=preset,
        seed=seed,
        device=device,
        progress=not no_progress,
    )
    if not run.main_rank:
        return 0
    print(f"FRI fractions ({run.model}, {run.n_images} images of {run.image_size}px; mean over images):")
    print(run.summary.to_string(float_format=lambda v: f"{v:.3f}"))
    if run.exported_pairs is not None:
        if selection.sample is not None and run.exported_pairs < selection.sample:
            print(
                f"warning: only {run.exported_pairs} of the {selection.sample} pairs asked for exist "
                f"({selection.strictness} {'/'.join(selection.kinds)} FRIs over {run.n_images} images)",
                file=sys.stderr,
            )
        print(f"exported {run.exported_pairs} FRI pairs to {export}")
    print(f"maps in {out}")
    return 0
