"""The typed entry point for paper reproductions: check every option, run, write the report.

The runners are imported when called: the paper constants (:mod:`model_eval.reproduce.papers`) are
read by the networks and the training code, which the runners themselves import.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from model_eval.reproduce.common import Section

PAPERS = ("hosseini", "aghdam", "srivastava")
ALL = "all"  # every paper, as one scorecard (:func:`reproduce_all`)


@dataclass(frozen=True)
class Reproduction:
    """A paper's tables beside ours (one :class:`Section` each) and the report written."""

    paper: str
    title: str
    sections: list[Section]
    report: Path


def _check(
    *,
    paper: str,
    source: str,
    root: str | None,
    roots: dict[str, str | None],
    networks: Sequence[str] | None,
    arch: str,
    model: str | None,
    max_minutes: float | None,
    finetune_per_class: Sequence[int] | None,
    eps: Sequence[float] | None,
    positive: dict[str, int],
) -> None:
    """Every check that needs no data, before the first image is rendered."""
    import stimuli
    from model_eval.nets.checkpoint import read_checkpoint
    from model_eval.nets.registry import get_entry
    from model_eval.reproduce.hosseini import NETWORKS

    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")
    for what, value in positive.items():
        if value < 1:
            raise ValueError(f"--{what.replace('_', '-')} must be positive")
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError("--max-minutes must be positive")
    if any(n < 1 for n in finetune_per_class or []):
        raise ValueError("--finetune-per-class values must be positive")
    if any(not 0 < e <= 1 for e in eps or []):
        raise ValueError("--eps values must lie in (0, 1]")
    for net in [*(networks or NETWORKS), arch]:
        get_entry(net)
    if source not in stimuli.sources.SOURCE_NAMES:
        raise stimuli.DataSourceError(
            f"unknown source {source!r}; choose one of {', '.join(stimuli.sources.SOURCE_NAMES)}"
        )
    for flag, where in (("--root", root), *roots.items()):
        if where is not None and not Path(where).exists():
            raise stimuli.DataSourceError(f"{flag} {where} does not exist")
    if source != "synthetic" and root is None:
        raise stimuli.DataSourceError(f"source {source!r} reads from disk: pass --root")
    if model is not None:
        read_checkpoint(model)


def reproduce_paper(
    paper: str,
    *,
    out: str | Path | None = None,
    source: str = "synthetic",
    root: str | None = None,
    mnist_root: str | None = None,
    cifar_root: str | None = None,
    gtsrb_root: str | None = None,
    max_minutes: float | None = None,
    networks: Sequence[str] | None = None,
    arch: str = "mvgg8",
    model: str | None = None,
    epochs: int = 5,
    finetune_epochs: int = 5,
    finetune_per_class: Sequence[int] | None = None,
    eps: Sequence[float] | None = None,
    n_per_class: int = 150,
    test_per_class: int = 30,
    n_search: int = 86,
    draws: int = 150,
    n_images: int = 20,
    imagenet_root: str | None = None,
    ensemble: int = 5,
    noise_copies: int = 15,
    population: int = 40,
    max_iterations: int = 300,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> Reproduction:
    """Rerun ``paper``'s experiments ("hosseini": negative images; "aghdam": noise; "srivastava": FRIs)
    and write
    ``report.html`` + one CSV per table to ``out`` (default ``artifacts/reproduce/PAPER``).

    Training runs share ``max_minutes``; a run the budget stopped is reported as such (and resumable),
    never as finished.
    """
    from model_eval.reproduce.common import Budget, write_report
    from model_eval.runtime.device import pick_device

    _check(
        paper=paper,
        source=source,
        root=root,
        roots={
            "--mnist-root": mnist_root,
            "--cifar-root": cifar_root,
            "--gtsrb-root": gtsrb_root,
            "--imagenet-root": imagenet_root,
        },
        networks=networks,
        arch=arch,
        model=model,
        max_minutes=max_minutes,
        finetune_per_class=finetune_per_class,
        eps=eps,
        positive={
            "epochs": epochs,
            "finetune_epochs": finetune_epochs,
            "n_per_class": n_per_class,
            "test_per_class": test_per_class,
            "n_search": n_search,
            "draws": draws,
            "n_images": n_images,
            "population": population,
            "max_iterations": max_iterations,
        },
    )
    if ensemble < 0 or noise_copies < 0:
        raise ValueError("--ensemble and --noise-copies must be >= 0 (0 skips that run)")
    where = Path(out) if out is not None else Path("artifacts/reproduce") / paper
    dev = pick_device(device)
    budget = Budget(max_minutes)
    start = time.monotonic()
    common: dict[str, Any] = {
        "source": source,
        "root": root,
        "n_per_class": n_per_class,
        "test_per_class": test_per_class,
        "epochs": epochs,
        "seed": seed,
        "device": device,
        "progress": progress,
    }
    if paper == "hosseini":
        from model_eval.reproduce.hosseini import NETWORKS, HosseiniOptions, run_hosseini

        opts = HosseiniOptions(
            **common,
            mnist_root=mnist_root,
            cifar_root=cifar_root,
            gtsrb_root=gtsrb_root,
            networks=tuple(networks or NETWORKS),
            finetune_epochs=finetune_epochs,
        )
        if finetune_per_class:
            opts.finetune_per_class = tuple(finetune_per_class)
        if eps is not None:
            opts.eps = tuple(eps)
        if opts.base not in opts.networks:
            opts.base = opts.networks[-1]
        sections = run_hosseini(opts, where, budget, dev)
        title = "Hosseini et al. 2017 (negative images): paper and ours"
    elif paper == "srivastava":
        from model_eval.reproduce.srivastava import SrivastavaOptions, run_srivastava

        opts_s = SrivastavaOptions(
            **{k: v for k, v in common.items() if k != "test_per_class"},
            arch=arch,
            model=model,
            n_images=n_images,
            imagenet_root=imagenet_root,
        )
        sections = run_srivastava(opts_s, where, budget, dev)
        title = "Srivastava et al. 2019 (fragile recognition images): paper and ours"
    else:
        from model_eval.reproduce.aghdam import AghdamOptions, run_aghdam

        opts_a = AghdamOptions(
            **common,
            arch=arch,
            model=model,
            n_search=n_search,
            draws=draws,
            ensemble=ensemble,
            noise_copies=noise_copies,
            population=population,
            max_iterations=max_iterations,
        )
        sections = run_aghdam(opts_a, where, budget, dev)
        title = "Aghdam et al. 2016 (noise): paper and ours"
    meta = {
        "source": source,
        "device": str(dev),
        "seed": seed,
        "training images per class": n_per_class,
        "test images per class": test_per_class,
        "epochs": epochs,
        "time budget (min)": max_minutes,
        "wall time (min)": round((time.monotonic() - start) / 60, 1),
    }
    report = write_report(
        where,
        title,
        "Each table puts the paper's numbers (model_eval/reproduce/papers/, one module per paper, "
        "cited there) beside ours; n/a marks a paper number not transcribed.",
        sections,
        meta,
    )
    return Reproduction(paper, title, sections, report)


@dataclass(frozen=True)
class Scorecard:
    """Every paper number beside ours (:mod:`model_eval.reproduce.scorecard`), and the files written."""

    table: pd.DataFrame
    csv: Path
    html: Path
    not_run: list[str]  # papers whose module has no scorecard function yet


def reproduce_all(
    out: str | Path,
    *,
    quick: bool = False,
    mnist_root: str | None = None,
    cifar_root: str | None = None,
    gtsrb_root: str | None = None,
    max_minutes: float | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> Scorecard:
    """Run every paper's experiments (small ones with ``quick``) and write one scorecard to ``out``:
    ``scorecard.csv``, ``scorecard.html``, and each paper's own report in ``out/<paper>``."""
    import stimuli
    from model_eval.reproduce.scorecard import ScorecardRun, build_scorecard, write_scorecard

    roots = {"mnist": mnist_root, "cifar10": cifar_root, "gtsrb": gtsrb_root}
    for name, where in roots.items():
        if where is not None and not Path(where).exists():
            raise stimuli.DataSourceError(f"--{name.replace('10', '')}-root {where} does not exist")
    if max_minutes is not None and not max_minutes > 0:
        raise ValueError("--max-minutes must be positive")
    start = time.monotonic()
    run = ScorecardRun(
        out=Path(out),
        quick=quick,
        seed=seed,
        device=device,
        progress=progress,
        max_minutes=max_minutes,
        roots={k: v for k, v in roots.items() if v is not None},
    )
    table, not_run = build_scorecard(run)
    meta = {
        "command": "python -m model_eval reproduce all" + (" --quick" if quick else ""),
        "data sets given": ", ".join(f"{k}: {v}" for k, v in run.roots.items()) or "none (stand-ins)",
        "seed": seed,
        "papers without a scorecard yet": ", ".join(not_run) or "none",
        "wall time (min)": round((time.monotonic() - start) / 60, 1),
    }
    csv, page = write_scorecard(table, Path(out), title="Paper numbers beside ours", meta=meta)
    return Scorecard(table, csv, page, not_run)
