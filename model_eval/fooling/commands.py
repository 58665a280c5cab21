"""``python -m model_eval fool``: parse the options, call :func:`model_eval.fooling.fool`, print."""

from __future__ import annotations

from pathlib import Path

import click

from model_eval.commandline import command
from model_eval.fooling.search import ENCODINGS, TARGET_CONFIDENCE


@command(
    "fool",
    variadic=("--encodings",),
    short_help="fooling images (Nguyen et al. 2015): direct, CPPN and gradient-ascent searches",
    help="Search, per class, for images the network labels with --target confidence; write the "
    "best image per class, summary.csv, archive.csv (confidence over generations), "
    "figures, and optionally a stimulus set of family 'fooling'.",
)
@click.option("--model", required=True, type=click.Path(path_type=Path), help="checkpoint file")
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="folder for images, CSVs and figures"
)
@click.option(
    "--encodings",
    multiple=True,
    default=tuple(ENCODINGS),
    type=click.Choice(ENCODINGS),
    help="searches to run, in this order (default: all three)",
)
@click.option(
    "--target",
    type=float,
    default=TARGET_CONFIDENCE,
    help="stop once every class's best image reaches this confidence (default 0.9999)",
)
@click.option("--generations", type=int, default=2000, help="most generations (gradient: steps)")
@click.option("--max-minutes", type=float, default=None, help="wall-time budget per encoding")
@click.option("--population", type=int, default=128, help="offspring per generation (direct, cppn)")
@click.option(
    "--mutation",
    type=click.Choice(("uniform", "gaussian")),
    default="uniform",
    help="direct encoding: redraw a gene from U(0,1), or add N(0, --sigma)",
)
@click.option(
    "--mutation-rate",
    type=float,
    default=0.1,
    help="direct encoding: per-gene rate, halved every --rate-halving generations",
)
@click.option("--rate-halving", type=int, default=1000)
@click.option("--sigma", type=float, default=0.15, help="Gaussian mutation's sigma ([0,1] scale)")
@click.option("--lr", type=float, default=0.05, help="gradient ascent: Adam step on pixel values")
@click.option("--log-every", type=int, default=1, help="archive.csv: one snapshot every N generations")
@click.option("--seed", type=int, default=0)
@click.option("--device", default=None, help="cpu, cuda, mps (default: best available)")
@click.option(
    "--export", type=click.Path(path_type=Path), default=None, help="write the elites as a stimulus set here"
)
@click.option(
    "--export-min-confidence",
    type=float,
    default=0.0,
    help="leave out elites below this confidence from the exported set",
)
@click.option(
    "--catch-fraction",
    type=float,
    default=0.1,
    help="exported set: clear source images as catch trials, this share of a list",
)
@click.option(
    "--source",
    default=None,
    help="legend and catch images for --export (default: the checkpoint's training source)",
)
@click.option("--root", default=None, help="data set folder of --source (default: the checkpoint's)")
@click.option("--split", default="test")
@click.option("--no-progress", is_flag=True)
def fool_command(
    model: Path,
    out: Path,
    encodings: tuple[str, ...],
    target: float,
    generations: int,
    max_minutes: float | None,
    population: int,
    mutation: str,
    mutation_rate: float,
    rate_halving: int,
    sigma: float,
    lr: float,
    log_every: int,
    seed: int,
    device: str | None,
    export: Path | None,
    export_min_confidence: float,
    catch_fraction: float,
    source: str | None,
    root: str | None,
    split: str,
    no_progress: bool,
) -> int:
    from model_eval.fooling import FoolConfig, fool

    configs = [
        FoolConfig(
            encoding=enc,
            target=target,
            generations=generations,
            max_minutes=max_minutes,
            population=population,
            seed=seed,
            mutation=mutation,
            mutation_rate=mutation_rate,
            rate_halving=rate_halving,
            sigma=sigma,
            lr=lr,
            log_every=log_every,
        )
        for enc in encodings
    ]
    run = fool(
        model,
        out,
        configs=configs,
        export=export,
        export_min_confidence=export_min_confidence,
        catch_fraction=catch_fraction,
        source=source,
        root=root,
        split=split,
        seed=seed,
        device=device,
        progress=not no_progress,
    )
    print(f"fooling images for {run.model} on {run.device} (target {target:g}):")
    for r in run.results:
        reached = r.archive.reached(r.config.target).cpu()
        ok = ", ".join(run.class_names[c] for c in range(len(reached)) if reached[c]) or "none"
        print(
            f"  {r.config.encoding:8s} {int(reached.sum())}/{len(reached)} classes reached in "
            f"{r.generations_run} generations, {r.seconds:.1f} s (stopped: {r.stopped}); "
            f"median confidence {float(r.archive.confidence.median()):.5f}; reached: {ok}"
        )
    if run.export is not None:
        print(f"exported the fooling stimulus set to {run.export}")
    print(f"results in {out} (summary.csv, archive.csv, contact_sheet.png, confidence_curve.png)")
    return 0
