"""Aghdam et al. 2016 (stability against noise), rerun on a chosen source and set beside the paper.

Experiments: accuracy against Gaussian-noise sigma (their list) and PSNR, with precision/recall per
class pooled over the whole noisy set; the evolutionary minimum-noise search on test images, with the
per-class PSNR of the minimum noise and the per-class scatter of PSNR against the clean score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from model_eval.nets.checkpoint import load_checkpoint
from model_eval.noise.search import GAConfig, minimum_noise_batch
from model_eval.noise.sweep import noise_sweep
from model_eval.reproduce.common import Budget, Section, load_test_split, pct, train_run
from model_eval.reproduce.papers.aghdam import AGHDAM_SIGMAS
from model_eval.training.data import spread_over_classes
from model_eval.training.loop import TrainConfig


@dataclass
class AghdamOptions:
    source: str = "synthetic"
    root: str | None = None
    arch: str = "mvgg8"
    model: str | None = None  # an existing checkpoint instead of training one
    n_per_class: int | None = 150
    test_per_class: int | None = 30
    epochs: int = 5
    n_search: int = 86  # images for the minimum-noise search (spread over the classes)
    population: int = 40
    max_iterations: int = 300
    patience: int = 50
    seed: int = 0
    device: str | None = None
    progress: bool = True


def run_aghdam(opts: AghdamOptions, out: Path, budget: Budget, device: torch.device) -> list[Section]:
    out.mkdir(parents=True, exist_ok=True)
    if opts.model:
        path, note = Path(opts.model), f"network: {opts.model}"
    else:
        cfg = TrainConfig.with_preset(
            opts.arch,
            source=opts.source,
            root=opts.root,
            n_per_class=opts.n_per_class,
            seed=opts.seed,
            epochs=opts.epochs,
            device=opts.device,
            progress=opts.progress,
        )
        run = train_run(cfg, out / "models" / f"{opts.arch}.pt", budget, 1.0, 1.0, None)
        path = run.path
        note = f"network: {opts.arch} trained {run.epochs_done} epochs" + (
            " (stopped early by --max-minutes; a rerun continues it)" if run.stopped_early else ""
        )
    ck = load_checkpoint(path, device=device)
    test = load_test_split(opts.source, opts.root, ck.classifier.input_size, opts.test_per_class, opts.seed)
    images = test.images.permute(0, 2, 3, 1).numpy()
    labels = test.labels.numpy()

    sweep = noise_sweep(
        ck.classifier,
        images,
        labels,
        num_classes=ck.num_classes,
        sigmas=(0.0, *AGHDAM_SIGMAS),
        seed=opts.seed,
        device=device,
        progress=opts.progress,
    )
    s = sweep.summary
    acc = pd.DataFrame(
        {
            "sigma (0-255)": s["sigma"],
            "PSNR ours (dB)": s["psnr_mean"].round(2),
            "accuracy ours %": s["accuracy"].map(pct),
            "mean confidence ours": s["mean_confidence"].round(3),
            "n": s["n"],
        }
    )
    pooled = sweep.pooled.assign(
        precision=lambda d: d["precision"].round(3), recall=lambda d: d["recall"].round(3)
    )
    sections = [
        Section(
            "Accuracy against Gaussian noise sigma and PSNR",
            acc,
            "noise_accuracy.csv",
            f"{note}. The paper gives no accuracy per sigma.",
            [_figure_accuracy(acc, out / "noise_accuracy.png")],
        ),
        Section(
            "Precision and recall per class, pooled over the whole noisy set (every sigma > 0)",
            pooled,
            "noise_pooled_precision_recall.csv",
            f"macro mean precision {np.nanmean(pooled['precision']):.3f}, "
            f"recall {np.nanmean(pooled['recall']):.3f} (classes never predicted have no precision)",
            print_rows=5,
        ),
    ]

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
    fig = _figure_scatter(searched, out / "min_noise_scatter.png")
    sections.append(
        Section(
            "Minimum noise per class (evolutionary search; PSNR of the smallest class-changing noise)",
            per_class,
            "min_noise_per_class.csv",
            f"{len(samples)} images, {int(samples['skipped'].sum())} skipped (misclassified when clean), "
            f"{int(searched['misclassified'].sum())} of {len(searched)} searched ones fooled; "
            "per-sample rows in min_noise_samples.csv. Paper per-class values not transcribed.",
            [fig],
            print_rows=10,
        )
    )
    return sections


def _figure_accuracy(t: pd.DataFrame, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    noisy = t[t["sigma (0-255)"] > 0]
    ax.plot(noisy["PSNR ours (dB)"], noisy["accuracy ours %"], "o-", label="ours")
    paper = noisy["accuracy paper %"].astype(float)
    if paper.notna().any():
        ax.plot(noisy["PSNR ours (dB)"], paper, "k^--", label="paper")
    for _, r in noisy.iterrows():
        ax.annotate(
            f"{r['sigma (0-255)']:g}",
            (r["PSNR ours (dB)"], r["accuracy ours %"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 5),
        )
    ax.invert_xaxis()
    ax.set_xlabel("PSNR (dB); labels: sigma on the 0-255 scale")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title("Accuracy against Gaussian noise (Aghdam et al. 2016)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _figure_scatter(samples: pd.DataFrame, path: Path) -> str:
    classes = sorted(samples["label"].unique())
    cols = max(1, min(7, len(classes)))
    rows = max(1, math.ceil(len(classes) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(1.9 * cols, 1.6 * rows), sharex=True, sharey=True, squeeze=False
    )
    for ax in axes.flat:
        ax.set_visible(False)
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
