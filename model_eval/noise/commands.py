"""``python -m model_eval noise`` and ``min-noise``: parse, call :mod:`model_eval.noise`, print."""

from __future__ import annotations

from pathlib import Path

import click

from model_eval.commandline import command, image_options
from model_eval.noise.sweep import SIGMAS


@command(
    "noise",
    variadic=("--sigmas",),
    short_help="accuracy vs Gaussian noise sigma / PSNR (Aghdam et al. 2016)",
    help="Sweep sigma; write noise_summary.csv, noise_per_class.csv, noise.png.",
)
@image_options(n_default=430, size_default=None)
@click.option("--sigmas", type=float, multiple=True, default=tuple(SIGMAS), show_default=True)
@click.option("--draws", type=int, default=1, help="noisy draws per image and sigma")
@click.option("--out", required=True, type=click.Path(path_type=Path))
def noise_command(
    model: Path,
    source: str,
    root: str | None,
    split: str,
    n_images: int,
    image_size: int | None,
    seed: int,
    device: str | None,
    no_progress: bool,
    sigmas: tuple[float, ...],
    draws: int,
    out: Path,
) -> int:
    from model_eval.noise import noise_report

    sweep = noise_report(
        model,
        out,
        source=source,
        root=root,
        split=split,
        n_images=n_images,
        image_size=image_size,
        sigmas=sigmas,
        draws=draws,
        seed=seed,
        device=device,
        progress=not no_progress,
    )
    print(sweep.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


@command(
    "min-noise",
    short_help="evolutionary minimum-noise search (Aghdam et al. 2016)",
    help="Genetic algorithm for the smallest noise that flips each image's class.",
)
@image_options(n_default=3, size_default=None)
@click.option("--population", type=int, default=40)
@click.option("--max-iterations", type=int, default=500)
@click.option("--patience", type=int, default=50)
@click.option("--lam", type=float, default=0.05, help="lambda: weight of ||r||_2 in the fitness")
@click.option(
    "--beta",
    type=float,
    default=None,
    help="beta of psi while still classified as c (default: the number of classes)",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CSV of results")
def min_noise_command(
    model: Path,
    source: str,
    root: str | None,
    split: str,
    n_images: int,
    image_size: int | None,
    seed: int,
    device: str | None,
    no_progress: bool,
    population: int,
    max_iterations: int,
    patience: int,
    lam: float,
    beta: float | None,
    out: Path,
) -> int:
    from model_eval.noise import GAConfig, min_noise

    config = GAConfig(
        population=population, max_iterations=max_iterations, patience=patience, lam=lam, beta=beta
    )
    df = min_noise(
        model,
        out,
        source=source,
        root=root,
        split=split,
        n_images=n_images,
        image_size=image_size,
        config=config,
        seed=seed,
        device=device,
        progress=not no_progress,
    )
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
