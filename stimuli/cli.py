"""Command line: python -m stimuli {build,validate,preview,presets} (--help on each).

Each command parses its options and calls the package's Python API (`preset_config` + `build`,
`validate_stimulus_set`, `contact_sheet`); errors a user causes are one line on stderr and exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from commandline import OneLineGroup, run

from .builder import AGHDAM_SIGMAS, COLOR_CONDITIONS, PRESETS, build, parse_legend_index, preset_config
from .errors import DataSourceError, StimulusSetError
from .preview import contact_sheet
from .sources import SOURCE_NAMES
from .stimulus_set import validate_stimulus_set

PRESET_HELP = (
    "negative: Hosseini et al. 2017 - regular, negative, gray, gray_negative (4 sources/class)"
    " + ~10% catch; "
    f"noise: Aghdam et al. 2016 - regular + Gaussian noise sigma {','.join(map(str, AGHDAM_SIGMAS))} on the "
    "0-255 scale, PSNR recorded (2 sources/class) + catch; regular: 5 clear images/class + catch"
)


def _user_errors() -> tuple[type[Exception], ...]:
    return (DataSourceError, StimulusSetError, ValueError, OSError)


def _csv_floats(ctx: click.Context, param: click.Parameter, text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


def _csv_conditions(ctx: click.Context, param: click.Parameter, text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    vals = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in vals if v not in COLOR_CONDITIONS]
    if bad:
        raise click.BadParameter(f"unknown conditions {bad}; choose from {','.join(COLOR_CONDITIONS)}")
    return vals


@click.group("stimuli", cls=OneLineGroup, user_errors=_user_errors)
def cli() -> None:
    """Generate, check and preview stimulus sets."""


@cli.command("build", help="Build a stimulus set. " + PRESET_HELP)
@click.option("--preset", required=True, type=click.Choice(sorted(PRESETS)), help=PRESET_HELP)
@click.option("--out", required=True, help="output directory (must not exist or be empty)")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="seed for the images: sources, catch trials, noise (default: a fresh secret seed, recorded in "
    "stimulus_set.json; give one only to reproduce a set, never for a set people will see); ids and row "
    "order are random",
)
@click.option("--n-per-class", type=int, help="source images per class (default: the preset's)")
@click.option("--size", type=int, default=32, show_default=True, help="image side in pixels")
@click.option(
    "--source", type=click.Choice(SOURCE_NAMES), default="synthetic", show_default=True, help="image source"
)
@click.option("--root", help="data set root for real sources (gtsrb, mnist, cifar10, imagefolder)")
@click.option("--split", help="split to draw sources from (default test)")
@click.option(
    "--conditions", callback=_csv_conditions, help="override the colour conditions, comma-separated"
)
@click.option(
    "--sigmas", callback=_csv_floats, help="override the noise sigmas (0-255 scale), comma-separated"
)
@click.option(
    "--catch-fraction", type=float, help="share of a participant's trials that are catch trials (default 0.1)"
)
@click.option("--equalize", is_flag=True, help="histogram-equalise sources first")
@click.option("--roi-crop", is_flag=True, help="crop GTSRB images to their annotated ROI")
@click.option(
    "--legend-index",
    multiple=True,
    metavar="CLASS:INDEX",
    help="use source image INDEX as the legend of CLASS (repeatable; default: sharpest image)",
)
@click.option("--download", is_flag=True, help="allow torchvision to download the data set")
@click.option("--no-progress", is_flag=True, help="hide progress bars")
def build_command(
    preset: str,
    out: str,
    seed: int | None,
    n_per_class: int | None,
    size: int,
    source: str,
    root: str | None,
    split: str | None,
    conditions: tuple[str, ...] | None,
    sigmas: tuple[float, ...] | None,
    catch_fraction: float | None,
    equalize: bool,
    roi_crop: bool,
    legend_index: tuple[str, ...],
    download: bool,
    no_progress: bool,
) -> None:
    cfg = preset_config(
        preset,
        seed=seed,
        n_per_class=n_per_class,
        size=size,
        source=source,
        root=root,
        split=split,
        conditions=conditions,
        sigmas=sigmas,
        catch_fraction=catch_fraction,
        equalize=equalize or None,
        roi_crop=roi_crop or None,
        legend_index=parse_legend_index(legend_index) or None,
        download=download or None,
    )
    written = build(cfg, out, progress=not no_progress)
    click.echo(f"wrote stimulus set {written}")


@cli.command("validate")
@click.argument("dir")
def validate_command(dir: str) -> None:
    """Check a stimulus set: files, hashes, manifest columns and types, no label text in file names or
    PNG chunks, no extra files. Prints "valid" (exit 0) or one line per problem (exit 1)."""
    problems = validate_stimulus_set(dir)
    for line in problems:
        click.echo(line)
    if problems:
        raise SystemExit(1)
    click.echo("valid")


@cli.command("preview")
@click.argument("dir")
@click.option("--out", required=True, help="output PNG path")
@click.option("--per-condition", type=int, default=16, show_default=True, help="stimuli shown per condition")
@click.option("--seed", type=int, default=0, show_default=True, help="seed for the sample shown")
def preview_command(dir: str, out: str, per_condition: int, seed: int) -> None:
    """Write a contact sheet PNG: the legend, then a sample of stimuli per condition."""
    written = contact_sheet(dir, out, per_condition=per_condition, seed=seed)
    click.echo(f"wrote {written}")


@cli.command("presets")
def presets_command() -> None:
    """List the presets and what they build."""
    for name, cfg in PRESETS.items():
        click.echo(
            f"{name}: family={cfg.family} conditions={','.join(cfg.conditions)} "
            f"sigmas={','.join(f'{s:g}' for s in cfg.sigmas) or '-'} n_per_class={cfg.n_per_class} "
            f"catch_fraction={cfg.catch_fraction}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `python -m stimuli` command line; the exit code (1: validation failed, 2: a user error)."""
    return run(cli, argv, prog_name="python -m stimuli")
