"""``python -m model_eval reproduce hosseini|aghdam``: check every argument, run, print, write the report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from model_eval.reproduce import Budget, print_table, write_report


def _check(args: argparse.Namespace) -> None:
    """Every check that needs no data, before the first image is rendered."""
    import stimuli
    from model_eval.checkpoint import read_checkpoint
    from model_eval.registry import get_entry
    from model_eval.reproduce_hosseini import NETWORKS

    for what in (
        "epochs",
        "finetune_epochs",
        "n_per_class",
        "test_per_class",
        "n_search",
        "population",
        "max_iterations",
    ):
        if getattr(args, what) < 1:
            raise ValueError(f"--{what.replace('_', '-')} must be positive")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ValueError("--max-minutes must be positive")
    if any(n < 1 for n in args.finetune_per_class or []):
        raise ValueError("--finetune-per-class values must be positive")
    for net in [*(args.networks or NETWORKS), args.arch]:
        get_entry(net)
    if args.source not in stimuli.sources.SOURCE_NAMES:
        raise stimuli.DataSourceError(
            f"unknown source {args.source!r}; choose one of {', '.join(stimuli.sources.SOURCE_NAMES)}"
        )
    for flag, root in (("--root", args.root), ("--mnist-root", args.mnist_root)):
        if root is not None and not Path(root).exists():
            raise stimuli.DataSourceError(f"{flag} {root} does not exist")
    if args.source != "synthetic" and args.root is None:
        raise stimuli.DataSourceError(f"source {args.source!r} reads from disk: pass --root")
    if args.model is not None:
        read_checkpoint(args.model)


def run_reproduce(args: argparse.Namespace) -> int:
    from model_eval.device import pick_device

    _check(args)
    out = args.out or Path("artifacts/reproduce") / args.paper
    device = pick_device(args.device)
    budget = Budget(args.max_minutes)
    start = time.monotonic()
    common = {
        "source": args.source,
        "root": args.root,
        "n_per_class": args.n_per_class,
        "test_per_class": args.test_per_class,
        "epochs": args.epochs,
        "seed": args.seed,
        "device": args.device,
        "progress": not args.no_progress,
    }
    if args.paper == "hosseini":
        from model_eval.reproduce_hosseini import NETWORKS, HosseiniOptions, run_hosseini

        opts = HosseiniOptions(
            **common,
            mnist_root=args.mnist_root,
            networks=tuple(args.networks or NETWORKS),
            finetune_epochs=args.finetune_epochs,
        )
        if args.finetune_per_class:
            opts.finetune_per_class = tuple(args.finetune_per_class)
        if opts.base not in opts.networks:
            opts.base = opts.networks[-1]
        sections = run_hosseini(opts, out, budget, device)
        title = "Hosseini et al. 2017 (negative images): paper and ours"
    else:
        from model_eval.reproduce_aghdam import AghdamOptions, run_aghdam

        opts_a = AghdamOptions(
            **common,
            arch=args.arch,
            model=args.model,
            n_search=args.n_search,
            population=args.population,
            max_iterations=args.max_iterations,
        )
        sections = run_aghdam(opts_a, out, budget, device)
        title = "Aghdam et al. 2016 (noise): paper and ours"
    for s in sections:
        print_table(s)
    meta = {
        "source": args.source,
        "device": str(device),
        "seed": args.seed,
        "training images per class": args.n_per_class,
        "test images per class": args.test_per_class,
        "epochs": args.epochs,
        "time budget (min)": args.max_minutes,
        "wall time (min)": round((time.monotonic() - start) / 60, 1),
    }
    report = write_report(
        out,
        title,
        "Each table puts the paper's numbers (model_eval/paper_constants.py, "
        "cited there) beside ours; n/a marks a paper number not transcribed.",
        sections,
        meta,
    )
    print(f"\nreport: {report}")
    return 0
