"""Aghdam et al. 2016 (stability against noise), rerun on a chosen source and set beside the paper.

The paper's protocol (Section 4; numbers in :mod:`model_eval.reproduce.papers.aghdam`):

- every test image degraded with Gaussian noise at each sigma of the paper's list, 150 draws per sigma
  (``draws``; 1,800 noisy images per test image), scored in device batches;
- accuracy and per-class precision/recall on the clean test set and on the whole noisy set, beside the
  paper's Tables 1-6 for the data set the run stands for (GTSRB for synthetic signs or GTSRB, CIFAR-10,
  MNIST);
- per class, every noisy sample's PSNR against its score (the true class's softmax), misclassified red
  and correct gray (the paper's Figures 3-7), for each network;
- the same for an ensemble of 5 networks trained separately (Tables 4-5) and for the network trained on
  the training set plus 15 noisy copies of every image (Table 6);
- the evolutionary minimum-noise search on test images (Section 3), per class.

The paper's networks are its own (GTSRB: Aghdam et al. 2015 at 48x48; CIFAR-10 and MNIST: Figure 1);
ours is ``arch`` (default mvgg8), and every row says which data set it ran on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from model_eval.nets.checkpoint import load_checkpoint
from model_eval.noise.search import GAConfig, minimum_noise_batch
from model_eval.noise.sweep import NoiseSweep, noise_sweep
from model_eval.reproduce.common import Budget, Section, load_test_split, pct, train_run
from model_eval.reproduce.papers.aghdam import (
    AGHDAM_GA,
    AGHDAM_NOISE,
    AGHDAM_SIGMAS,
    AGHDAM_TRAINING,
    NOT_GIVEN,
    aghdam_table,
)
from model_eval.training.data import spread_over_classes
from model_eval.training.loop import TrainConfig

if TYPE_CHECKING:
    from model_eval.reproduce.scorecard import ScorecardRow, ScorecardRun

PAPER = "Aghdam 2016"
PAPER_DATASET = {"synthetic": "GTSRB", "gtsrb": "GTSRB", "cifar10": "CIFAR-10", "mnist": "MNIST"}


@dataclass
class AghdamOptions:
    source: str = "synthetic"
    root: str | None = None
    arch: str = "mvgg8"
    model: str | None = None  # an existing checkpoint for the single network instead of training one
    n_per_class: int | None = 150
    test_per_class: int | None = 30
    epochs: int = 5
    draws: int = int(AGHDAM_NOISE["draws_per_sigma"])  # noisy images per sigma per test image
    ensemble: int = int(AGHDAM_TRAINING["ensemble_size"])  # 0: no ensemble run
    noise_copies: int = int(AGHDAM_TRAINING["noise_copies"])  # 0: no noise-augmented run
    n_search: int = 86  # images for the minimum-noise search (spread over the classes)
    population: int = 40
    max_iterations: int = 300
    patience: int = int(AGHDAM_GA["patience"])
    seed: int = 0
    device: str | None = None
    progress: bool = True


@dataclass
class Evaluated:
    """One network's clean and noisy results (the clean set is the sweep's sigma 0)."""

    network: str  # single | ensemble of 5 | noise-augmented
    note: str
    sweep: NoiseSweep

    @property
    def clean_accuracy(self) -> float:
        return float(self.sweep.summary.loc[self.sweep.summary["sigma"] == 0, "accuracy"].iloc[0])

    def per_class(self, test: str) -> pd.DataFrame:
        pc = self.sweep.per_class
        return self.sweep.pooled if test == "noisy" else pc[pc["sigma"] == 0].drop(columns="sigma")


def _networks(opts: AghdamOptions, out: Path, budget: Budget) -> list[tuple[str, Path, str]]:
    """(network, checkpoint, note) for the single, ensemble and noise-augmented networks (trained here)."""
    runs: list[tuple[str, dict[str, Any], float]] = []
    if not opts.model:
        runs.append(("single", {}, 1.0))
    if opts.ensemble > 0:
        runs.append((f"ensemble of {opts.ensemble}", {"ensemble": opts.ensemble}, float(opts.ensemble)))
    if opts.noise_copies > 0:
        runs.append(("noise-augmented", {"noise_copies": opts.noise_copies}, 1.0 + opts.noise_copies))
    found = [("single", Path(opts.model), f"single network: {opts.model}")] if opts.model else []
    work_left = sum(w for _, _, w in runs)
    for network, extra, work in runs:
        cfg = TrainConfig.with_preset(
            opts.arch,
            source=opts.source,
            root=opts.root,
            n_per_class=opts.n_per_class,
            seed=opts.seed,
            epochs=opts.epochs,
            device=opts.device,
            progress=opts.progress,
            **extra,
        )
        name = f"{opts.arch}_{network.split()[0]}.pt"
        run = train_run(cfg, out / "models" / name, budget, work, work_left, None)
        work_left -= work
        note = f"{network}: {opts.arch} trained {run.epochs_done} epochs" + (
            " (stopped early by --max-minutes; a rerun continues it)" if run.stopped_early else ""
        )
        found.append((network, run.path, note))
    return found


def evaluate_aghdam(opts: AghdamOptions, out: Path, budget: Budget, device: torch.device) -> list[Evaluated]:
    """Train (or load) the networks and sweep each over the paper's sigmas, ``opts.draws`` per sigma."""
    out.mkdir(parents=True, exist_ok=True)
    done = []
    test = None
    for network, path, note in _networks(opts, out, budget):
        ck = load_checkpoint(path, device=device)
        if test is None:
            test = load_test_split(
                opts.source, opts.root, ck.classifier.input_size, opts.test_per_class, opts.seed
            )
        sweep = noise_sweep(
            ck.classifier,
            test.images.permute(0, 2, 3, 1).numpy(),
            test.labels.numpy(),
            num_classes=ck.num_classes,
            sigmas=(0.0, *AGHDAM_SIGMAS),
            draws=opts.draws,
            seed=opts.seed,
            device=device,
            progress=opts.progress,
        )
        sweep.samples.save(out / f"noise_samples_{network.split()[0]}.npz")
        done.append(Evaluated(network, note, sweep))
    return done


def _paper_network(network: str) -> str:
    return "ensemble of 5" if network.startswith("ensemble") else network


def headline_table(evaluated: list[Evaluated], dataset: str) -> pd.DataFrame:
    """Top-1 accuracy per network on the clean and the noisy test set, the paper's beside ours."""
    rows = []
    for ev in evaluated:
        for test, ours in (("clean", ev.clean_accuracy), ("noisy", ev.sweep.noisy_accuracy)):
            t = aghdam_table(dataset, _paper_network(ev.network), test)
            paper = t["accuracy"] if t is not None else None
            rows.append(
                {
                    "network": ev.network,
                    "test set": test,
                    "accuracy paper %": paper if isinstance(paper, float) else None,
                    "accuracy ours %": pct(ours),
                    "difference": None if not isinstance(paper, float) else round(100 * ours - paper, 2),
                    "where": t["where"] if t is not None else "no table in the paper",
                    "samples": int((ev.sweep.samples.sigma > 0).sum())
                    if test == "noisy"
                    else int((ev.sweep.samples.sigma == 0).sum()),
                }
            )
    return pd.DataFrame(rows)


def per_class_table(ev: Evaluated, test: str, dataset: str) -> tuple[pd.DataFrame, str]:
    """Per-class precision and recall, the paper's beside ours; and where the paper's come from."""
    t = aghdam_table(dataset, _paper_network(ev.network), test)
    paper = t["per_class"] if t is not None else {}
    ours = ev.per_class(test)
    table = pd.DataFrame(
        {
            "class": ours["class"],
            "precision paper": [paper.get(int(c), (None, None))[0] for c in ours["class"]],
            "recall paper": [paper.get(int(c), (None, None))[1] for c in ours["class"]],
            "precision ours": ours["precision"].round(4),
            "recall ours": ours["recall"].round(4),
            "support": ours["support"],
        }
    )
    return table, (t["where"] if t is not None and paper else "no per-class table in the paper")


def sigma_table(evaluated: list[Evaluated]) -> pd.DataFrame:
    """Accuracy per sigma for every network, with our PSNR beside the paper's PSNR anchors."""
    first = evaluated[0].sweep.summary
    anchors: dict[float, float] = AGHDAM_NOISE["psnr_at_sigma"]
    t = pd.DataFrame(
        {
            "sigma (0-255)": first["sigma"],
            "PSNR paper (dB, approx.)": [anchors.get(float(s)) for s in first["sigma"]],
            "PSNR ours (dB)": first["psnr_mean"].round(2),
        }
    )
    for ev in evaluated:
        t[f"accuracy ours % ({ev.network})"] = ev.sweep.summary["accuracy"].map(pct)
    return t


def run_aghdam(opts: AghdamOptions, out: Path, budget: Budget, device: torch.device) -> list[Section]:
    """Every table and figure of the reproduction (see the module docstring)."""
    evaluated = evaluate_aghdam(opts, out, budget, device)
    dataset = PAPER_DATASET.get(opts.source, "")
    stand_in = " (synthetic signs stand in for GTSRB)" if opts.source == "synthetic" else ""
    notes = "; ".join(ev.note for ev in evaluated)
    sections = [
        Section(
            f"Top-1 accuracy, clean and noisy test sets (paper: {dataset or 'no table for this source'})",
            headline_table(evaluated, dataset),
            "aghdam_accuracy.csv",
            f"{notes}. Noisy set: every test image at each sigma, {opts.draws} draws per sigma{stand_in}. "
            "The paper's GTSRB clean accuracy is in Aghdam et al. 2015, not in this paper.",
        ),
        Section(
            "Accuracy against Gaussian noise sigma and PSNR (ours; the paper gives no accuracy per sigma)",
            sigma_table(evaluated),
            "noise_accuracy.csv",
            "PSNR paper: the text's anchors (sigma 1 about 50 dB, 8 about 30 dB, 40 about 15 dB).",
            [_figure_accuracy(evaluated, out / "noise_accuracy.png")],
        ),
    ]
    for ev in evaluated:
        for test in ("clean", "noisy"):
            table, where = per_class_table(ev, test, dataset)
            key = ev.network.split()[0]
            figures = (
                [_figure_scatter(ev, out / f"noise_scatter_{key}.png", opts.draws)] if test == "noisy" else []
            )
            sections.append(
                Section(
                    f"Precision and recall per class: {ev.network} network, {test} test set",
                    table,
                    f"precision_recall_{key}_{test}.csv",
                    f"paper: {where}; macro mean ours: precision {np.nanmean(table['precision ours']):.3f}, "
                    f"recall {np.nanmean(table['recall ours']):.3f} (never predicted: no precision)",
                    figures,
                    print_rows=5,
                )
            )
    sections.append(_min_noise_section(opts, out, device, evaluated))
    return sections


def _min_noise_section(
    opts: AghdamOptions, out: Path, device: torch.device, evaluated: list[Evaluated]
) -> Section:
    single = out / "models" / f"{opts.arch}_single.pt" if not opts.model else Path(opts.model)
    ck = load_checkpoint(single, device=device)
    test = load_test_split(opts.source, opts.root, ck.classifier.input_size, opts.test_per_class, opts.seed)
    pick = spread_over_classes(test.labels, opts.n_search, opts.seed)
    ga = GAConfig(population=opts.population, max_iterations=opts.max_iterations, patience=opts.patience)
    results = minimum_noise_batch(
        ck.classifier,
        test.images[pick],
        test.labels[pick].tolist(),
        config=ga,
        seed=opts.seed,
        device=device,
        progress=opts.progress,
    )
    samples = pd.DataFrame([r.row() for r in results])
    samples.to_csv(out / "min_noise_samples.csv", index=False)
    searched = samples[~samples["skipped"]]
    # the minimum noise exists only where the search changed the class; others have no PSNR here
    samples["psnr_fooled"] = samples["psnr"].where(samples["misclassified"])
    per_class = (
        samples.groupby("label")
        .agg(
            images=("label", "size"),
            skipped=("skipped", "sum"),
            fooled=("misclassified", "sum"),
            median_psnr_fooled=(
                "psnr_fooled",
                lambda v: float(np.nanmedian(v)) if v.notna().any() else math.nan,
            ),
            mean_clean_score=("clean_score", "mean"),
        )
        .reset_index()
    )
    per_class["median_psnr_fooled"] = per_class["median_psnr_fooled"].round(2)
    per_class["mean_clean_score"] = per_class["mean_clean_score"].round(3)
    ours = {
        k: getattr(ga, k) for k in ("population", "max_iterations", "lam", "mutation_rate", "crossover_rate")
    }
    ours["beta"] = ga.beta if ga.beta is not None else "number of classes"
    given = ", ".join(f"{k} {v}" for k, v in ours.items())
    return Section(
        "Minimum noise per class (evolutionary search; PSNR of the smallest class-changing noise)",
        per_class,
        "min_noise_per_class.csv",
        f"{len(samples)} images, {int(samples['skipped'].sum())} skipped (misclassified when clean), "
        f"{int(searched['misclassified'].sum())} of {len(searched)} searched ones fooled; per-sample rows in "
        f"min_noise_samples.csv. Paper: tournament {AGHDAM_GA['tournament']}, mutation in "
        f"[-{AGHDAM_GA['mutation_range_255']:g}, {AGHDAM_GA['mutation_range_255']:g}], elitism "
        f"{AGHDAM_GA['elite']}, stop after {AGHDAM_GA['patience']} iterations without improvement; "
        f"{NOT_GIVEN}, ours: {given}.",
        [_figure_min_noise(searched, out / "min_noise_scatter.png")],
        print_rows=10,
    )


def scorecard(run: ScorecardRun) -> list[ScorecardRow]:
    """The paper's headline accuracies beside ours on GTSRB (or synthetic signs standing in), and on
    CIFAR-10 and MNIST where ``run.roots`` has them; ``run.quick``: tiny networks and few draws."""
    from model_eval.reproduce.common import write_report
    from model_eval.reproduce.scorecard import ScorecardRow
    from model_eval.runtime.device import pick_device

    device = pick_device(run.device)
    sources = [("gtsrb", run.roots["gtsrb"]) if "gtsrb" in run.roots else ("synthetic", None)]
    sources += [(s, run.roots[s]) for s in ("cifar10", "mnist") if s in run.roots]
    rows: list[ScorecardRow] = []
    for source, root in sources:
        opts = AghdamOptions(
            source=source, root=root, seed=run.seed, device=run.device, progress=run.progress
        )
        if run.quick:
            opts.n_per_class, opts.test_per_class, opts.epochs, opts.draws = 5, 2, 1, 3
            opts.n_search, opts.population, opts.max_iterations = 4, 8, 5
        out = run.out / "aghdam" / source
        budget = Budget(run.max_minutes / len(sources) if run.max_minutes else None)
        sections = run_aghdam(opts, out, budget, device)
        write_report(
            out, f"{PAPER} on {source}", "The paper's numbers beside ours.", sections, {"source": source}
        )
        dataset = PAPER_DATASET[source]
        for r in sections[0].table.to_dict("records"):
            paper = r["accuracy paper %"]
            noisy = f" ({opts.draws} draws per sigma)" if r["test set"] == "noisy" else ""
            rows.append(
                ScorecardRow(
                    paper=PAPER,
                    where=str(r["where"]),
                    quantity=f"top-1 accuracy %, {r['test set']} test set{noisy}",
                    network=f"{r['network']} ({opts.arch})",
                    paper_dataset=dataset,
                    our_dataset="synthetic signs" if source == "synthetic" else dataset,
                    paper_data=source != "synthetic",
                    paper_value=None if pd.isna(paper) else float(paper),
                    our_value=float(r["accuracy ours %"]),
                    note="stand-in for GTSRB" if source == "synthetic" else "",
                )
            )
    return rows


def _figure_accuracy(evaluated: list[Evaluated], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for ev in evaluated:
        s = ev.sweep.summary[ev.sweep.summary["sigma"] > 0]
        ax.plot(s["psnr_mean"], 100 * s["accuracy"], "o-", ms=3, label=ev.network)
    s = evaluated[0].sweep.summary[evaluated[0].sweep.summary["sigma"] > 0]
    for _, r in s.iterrows():
        ax.annotate(
            f"{r['sigma']:g}",
            (r["psnr_mean"], 100 * r["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 5),
        )
    ax.invert_xaxis()
    ax.set_xlabel("PSNR (dB); labels: sigma on the 0-255 scale")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("Accuracy against Gaussian noise (Aghdam et al. 2016 protocol)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _panels(n: int, cols: int = 7) -> tuple[Any, Any]:
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.0 * cols, 1.7 * rows), sharex=True, sharey=True, squeeze=False
    )
    for ax in axes.flat:
        ax.set_visible(False)
    return fig, axes


def _figure_scatter(ev: Evaluated, path: Path, draws: int) -> str:
    """The paper's Figures 3-7: per class, every noisy sample's PSNR against its score (red: wrong)."""
    d = ev.sweep.samples.frame()
    d = d[d["sigma"] > 0]
    classes = sorted(d["label"].unique())
    fig, axes = _panels(len(classes))
    for ax, c in zip(axes.flat, classes, strict=False):
        dc = d[d["label"] == c]
        wrong = dc["pred"] != dc["label"]
        ax.set_visible(True)
        ax.scatter(dc.loc[~wrong, "score"], dc.loc[~wrong, "psnr"], s=1, c="0.6", rasterized=True, lw=0)
        ax.scatter(dc.loc[wrong, "score"], dc.loc[wrong, "psnr"], s=1, c="tab:red", rasterized=True, lw=0)
        ax.set_title(f"class {c}: {int(wrong.sum())}/{len(dc)} wrong", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.supxlabel("softmax score of the true class", fontsize=8)
    fig.supylabel("PSNR (dB)", fontsize=8)
    fig.suptitle(
        f"{ev.network} network: every noisy test sample ({draws} draws per sigma), red misclassified, "
        "gray correct",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _figure_min_noise(samples: pd.DataFrame, path: Path) -> str:
    classes = sorted(samples["label"].unique())
    fig, axes = _panels(len(classes))
    for ax, c in zip(axes.flat, classes, strict=False):
        d = samples[samples["label"] == c]
        fooled = d[d["misclassified"]]
        ax.set_visible(True)
        ax.scatter(fooled["clean_score"], fooled["psnr"], s=10, c="tab:red")
        missed = len(d) - len(fooled)
        ax.set_title(f"class {c}" + (f" ({missed} not changed)" if missed else ""), fontsize=7)
        ax.tick_params(labelsize=6)
    fig.supxlabel("softmax score of the clean image's class", fontsize=8)
    fig.supylabel("PSNR of the minimum noise (dB)", fontsize=8)
    fig.suptitle(
        "Per class: PSNR of the minimum class-changing noise against the clean score "
        "(searched images the search could not change are counted in the titles)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
