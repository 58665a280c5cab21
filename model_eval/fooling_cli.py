"""``python -m model_eval fool``: the fooling-image command (parser and handler, kept out of cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from model_eval.fooling import ENCODINGS, TARGET_CONFIDENCE, FoolConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fool",
        help="fooling images (Nguyen et al. 2015): direct, CPPN and gradient-ascent searches",
        description="Search, per class, for images the network labels with --target confidence; write the "
        "best image per class, summary.csv, archive.csv (confidence over generations), "
        "figures, and optionally a stimulus set of family 'fooling'.",
    )
    p.add_argument("--model", required=True, type=Path, help="checkpoint file")
    p.add_argument("--out", required=True, type=Path, help="folder for images, CSVs and figures")
    p.add_argument(
        "--encodings",
        nargs="+",
        default=list(ENCODINGS),
        choices=ENCODINGS,
        help="searches to run, in this order (default: all three)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=TARGET_CONFIDENCE,
        help="stop once every class's best image reaches this confidence (default 0.9999)",
    )
    p.add_argument("--generations", type=int, default=2000, help="most generations (gradient: steps)")
    p.add_argument("--max-minutes", type=float, default=None, help="wall-time budget per encoding")
    p.add_argument("--population", type=int, default=128, help="offspring per generation (direct, cppn)")
    p.add_argument(
        "--mutation",
        choices=("uniform", "gaussian"),
        default="uniform",
        help="direct encoding: redraw a gene from U(0,1), or add N(0, --sigma)",
    )
    p.add_argument(
        "--mutation-rate",
        type=float,
        default=0.1,
        help="direct encoding: per-gene rate, halved every --rate-halving generations",
    )
    p.add_argument("--rate-halving", type=int, default=1000)
    p.add_argument("--sigma", type=float, default=0.15, help="Gaussian mutation's sigma ([0,1] scale)")
    p.add_argument("--lr", type=float, default=0.05, help="gradient ascent: Adam step on pixel values")
    p.add_argument("--log-every", type=int, default=1, help="archive.csv: one snapshot every N generations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--export", type=Path, default=None, help="write the elites as a stimulus set here")
    p.add_argument(
        "--export-min-confidence",
        type=float,
        default=0.0,
        help="leave out elites below this confidence from the exported set",
    )
    p.add_argument(
        "--catch-fraction",
        type=float,
        default=0.1,
        help="exported set: clear source images as catch trials, this share of a list",
    )
    p.add_argument(
        "--source",
        default=None,
        help="legend and catch images for --export (default: the checkpoint's training source)",
    )
    p.add_argument("--root", default=None, help="data set folder of --source (default: the checkpoint's)")
    p.add_argument("--split", default="test")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from model_eval.checkpoint import CheckpointError, load_checkpoint
    from model_eval.device import pick_device
    from model_eval.fooling_report import export_fooling_set, run_fooling

    configs = [
        FoolConfig(
            encoding=enc,
            target=args.target,
            generations=args.generations,
            max_minutes=args.max_minutes,
            population=args.population,
            seed=args.seed,
            mutation=args.mutation,
            mutation_rate=args.mutation_rate,
            rate_halving=args.rate_halving,
            sigma=args.sigma,
            lr=args.lr,
            log_every=args.log_every,
        )
        for enc in args.encodings
    ]
    for cfg in configs:
        cfg.check()
    if len(set(args.encodings)) != len(args.encodings):
        raise ValueError("--encodings names an encoding twice")
    if not 0.0 <= args.catch_fraction < 1.0 or not 0.0 <= args.export_min_confidence <= 1.0:
        raise ValueError("--catch-fraction must lie in [0, 1) and --export-min-confidence in [0, 1]")
    if (
        args.export is not None
        and args.export.exists()
        and (not args.export.is_dir() or any(args.export.iterdir()))
    ):
        raise ValueError(f"--export directory {args.export} exists and is not empty")
    device = pick_device(args.device)
    ckpt = load_checkpoint(args.model, device=device)
    src = None
    if args.export is not None:  # read the source first: a missing data set fails before the search
        import stimuli

        cfg = ckpt.data.get("config", {})
        name = args.source or cfg.get("source") or "synthetic"
        root = args.root if args.source or args.root else cfg.get("root")
        src = stimuli.get_source(
            name, root=root, split=args.split, size=ckpt.classifier.input_size, seed=args.seed
        )
        if [int(c.id) for c in src.classes] != [int(c["id"]) for c in ckpt.classes]:
            raise CheckpointError(
                f"checkpoint {ckpt.path} has {ckpt.num_classes} classes but source "
                f"{name!r} has {len(src.classes)}: legend and catch images must match"
            )
    results = run_fooling(ckpt, configs, args.out, device=device, progress=not args.no_progress)
    names = {int(c["id"]): str(c["name"]) for c in ckpt.classes}
    print(f"fooling images for {ckpt.name} on {device} (target {args.target:g}):")
    for r in results:
        reached = r.archive.reached(r.config.target).cpu()
        ok = ", ".join(names[c] for c in range(len(reached)) if reached[c]) or "none"
        print(
            f"  {r.config.encoding:8s} {int(reached.sum())}/{len(reached)} classes reached in "
            f"{r.generations_run} generations, {r.seconds:.1f} s (stopped: {r.stopped}); "
            f"median confidence {float(r.archive.confidence.median()):.5f}; reached: {ok}"
        )
    if args.export is not None:
        export_fooling_set(
            args.export,
            results,
            src,
            model_name=ckpt.name,
            seed=args.seed,
            catch_fraction=args.catch_fraction,
            min_confidence=args.export_min_confidence,
            progress=not args.no_progress,
        )
        print(f"exported the fooling stimulus set to {args.export}")
    print(f"results in {args.out} (summary.csv, archive.csv, contact_sheet.png, confidence_curve.png)")
    return 0
