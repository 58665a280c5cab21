"""Run the fooling-image searches for a checkpoint, write their results and figures, and export the
images as a stimulus set of family ``fooling`` for the human study.

Outputs of :func:`run_fooling` (in ``out_dir``):
- ``<encoding>/class_NNN.png``: the best image per class; ``summary.csv``: per encoding and class its
  confidence, the generation it was found, whether it reached the target, and the network's label;
- ``archive.csv``: the archive over time (encoding, generation, elapsed_s, evaluations, class,
  confidence), to plot the paper's confidence-against-generations curve (``confidence_curve.png``);
- ``cppn_genomes.json``: the CPPN elites (``Genome.from_dict`` renders them again);
- ``contact_sheet.png``: every elite with the network's label and confidence; ``run.json``: settings,
  generations run, evaluations and seconds per encoding.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from model_eval.fooling.search import ARCHIVE_COLUMNS, FoolConfig, FoolResult, run_search, write_results
from model_eval.nets.checkpoint import LoadedCheckpoint


def run_fooling(
    ckpt: LoadedCheckpoint,
    configs: list[FoolConfig],
    out_dir: Path,
    *,
    device: torch.device,
    progress: bool = True,
) -> list[FoolResult]:
    """One search per config (encoding), sharing one archive-over-time CSV; writes every output."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = ckpt.classifier
    names = {int(c["id"]): str(c["name"]) for c in ckpt.classes}
    results = []
    with (out_dir / "archive.csv").open("w", encoding="utf-8", newline="") as log:
        log.write(",".join(ARCHIVE_COLUMNS) + "\n")
        for cfg in configs:
            results.append(
                run_search(
                    model,
                    n_classes=ckpt.num_classes,
                    channels=ckpt.in_channels,
                    size=model.input_size,
                    config=cfg,
                    device=device,
                    log=log,
                    progress=progress,
                )
            )
            log.flush()
    write_results(out_dir, results, names)
    run = {
        "model": ckpt.name,
        "checkpoint": str(ckpt.path),
        "device": str(device),
        "torch": str(torch.__version__),
        "machine": platform.machine(),
        "encodings": [
            {
                **asdict(r.config),
                "generations_run": r.generations_run,
                "evaluations": r.evaluations,
                "seconds": round(r.seconds, 3),
                "stopped": r.stopped,
                "classes_reached": int(r.archive.reached(r.config.target).sum()),
            }
            for r in results
        ],
    }
    (out_dir / "run.json").write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    plot_curve(out_dir / "archive.csv", out_dir / "confidence_curve.png", target=configs[0].target)
    contact_sheet(out_dir / "contact_sheet.png", results, names, title=f"fooling images for {ckpt.name}")
    return results


def plot_curve(archive_csv: Path, path: Path, *, target: float) -> None:
    """Median (and range) over classes of the best confidence against generations, per encoding."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.read_csv(archive_csv)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for enc, grp in df.groupby("encoding", sort=False):
        stats = grp.groupby("generation")["confidence"].agg(["median", "min", "max"])
        line = ax.plot(stats.index + 1, stats["median"], label=f"{enc} (median)")[0]
        ax.fill_between(stats.index + 1, stats["min"], stats["max"], color=line.get_color(), alpha=0.15)
    ax.axhline(target, color="k", lw=0.8, ls="--", label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_xlabel("generation (gradient: step)")
    ax.set_ylabel("best confidence per class")
    ax.set_ylim(0, 1.01)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Confidence against generations (band: min-max over classes)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def contact_sheet(path: Path, results: list[FoolResult], names: dict[int, str], *, title: str) -> None:
    """Rows: encodings; columns: classes; each elite captioned with the network's label and confidence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_classes = len(results[0].archive.confidence)
    cols = min(n_classes, 15)
    rows_per = -(-n_classes // cols)
    fig, axes = plt.subplots(
        rows_per * len(results),
        cols,
        squeeze=False,
        figsize=(1.15 * cols, 1.45 * rows_per * len(results) + 0.4),
    )
    for k, r in enumerate(results):
        imgs = r.archive.images.permute(0, 2, 3, 1).cpu().numpy()
        for c in range(rows_per * cols):
            ax = axes[k * rows_per + c // cols][c % cols]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= n_classes:
                ax.axis("off")
                continue
            img = imgs[c]
            ax.imshow(
                img[:, :, 0] if img.shape[2] == 1 else img,
                cmap="gray",
                vmin=0,
                vmax=1,
                interpolation="nearest",
            )
            label = int(r.labels[c])
            name = str(names.get(label, label))
            name = name if len(name) <= 18 else name[:17] + "\u2026"
            ax.set_title(f"{name}\n{float(r.label_confidence[c]):.4f}", fontsize=6)
            if c % cols == 0:
                ax.set_ylabel(r.config.encoding, fontsize=8)
    fig.suptitle(f"{title}: network label and confidence", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def fooling_stimulus_rows(
    results: list[FoolResult],
    model_name: str,
    *,
    min_confidence: float = 0.0,
) -> tuple[list[dict[str, Any]], list[np.ndarray], dict[str, Any]]:
    """Manifest rows, images and per-stimulus network facts for the elites.

    One "source" per target class, its conditions the encodings: the Latin square then shows each
    participant one image per target class, its encoding counterbalanced over lists. Source ids are
    random (a seeded id drawn in class order would encode the class). Each row's label is the class the
    network assigns to the 8-bit image; elites below ``min_confidence`` are left out.
    """
    from stimuli import new_ids

    n_classes = len(results[0].archive.confidence)
    source_ids = ["f" + h for h in new_ids(n_classes, nbytes=8)]
    rows, images, facts = [], [], {}
    for r in results:
        imgs = r.archive.images.permute(0, 2, 3, 1).cpu().numpy()
        for c in range(n_classes):
            conf = float(r.label_confidence[c])
            if conf < min_confidence:
                continue
            rows.append(
                {
                    "source_id": source_ids[c],
                    "label": int(r.labels[c]),
                    "family": "fooling",
                    "condition": r.config.encoding,
                    "model": model_name,
                    "catch": False,
                }
            )
            images.append(imgs[c])
            facts[f"{source_ids[c]}/{r.config.encoding}"] = {
                "target_class": c,
                "confidence": conf,
                "generation": int(r.archive.generation[c]),
            }
    return rows, images, facts


def export_fooling_set(
    out: Path,
    results: list[FoolResult],
    src: Any,
    *,
    model_name: str,
    seed: int,
    catch_fraction: float = 0.1,
    min_confidence: float = 0.0,
    progress: bool = True,
) -> Path:
    """Write the elites as a ``fooling`` stimulus set, with the source's legend and clear catch trials.

    Catch trials are clear images of the source (its true classes), ``condition=regular``, about
    ``catch_fraction`` of one participant's trials (at least one): an image people can name, so the
    attention check is not confounded with "none of these".
    """
    import stimuli
    from stimuli import n_catch, new_ids

    rows, images, facts = fooling_stimulus_rows(results, model_name, min_confidence=min_confidence)
    if not rows:
        raise ValueError(f"no elite reaches --export-min-confidence {min_confidence}: nothing to export")
    n_sources = len({r["source_id"] for r in rows})
    k = max(1, n_catch(n_sources, len(results), catch_fraction))
    rng = np.random.default_rng([seed, 0xCA7C])
    picked = rng.choice(len(src.labels), size=min(k, len(src.labels)), replace=False)
    channels = images[0].shape[2]
    catch_ids = sorted(picked.tolist())
    for sid, i, img in zip(new_ids(len(catch_ids), nbytes=8), catch_ids, src.images(catch_ids), strict=True):
        rows.append(
            {
                "source_id": "c" + sid,
                "label": int(src.labels[i]),
                "family": "fooling",
                "condition": "regular",
                "catch": True,
            }
        )
        images.append(_channels(_at_size(img, images[0].shape[0]), channels))
    legend = {
        c.id: _channels(np.asarray(src.legend_image(c.id), dtype=np.float32), channels) for c in src.classes
    }
    params = {
        "model": model_name,
        "encodings": [r.config.encoding for r in results],
        "target": results[0].config.target,
        "min_confidence": min_confidence,
        "search": [asdict(r.config) for r in results],
        "elites": facts,
    }
    return stimuli.write_stimulus_set(
        out,
        rows,
        images,
        list(src.classes),
        legend,
        name=f"fooling-{model_name}",
        seed=seed,
        source=src.name,
        params=params,
        progress=progress,
    )


def _at_size(img: np.ndarray, size: int) -> np.ndarray:
    """A source image at the fooling images' side (bilinear), on the 8-bit grid."""
    if img.shape[0] == size and img.shape[1] == size:
        return np.round(np.clip(img, 0, 1) * 255) / 255
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    t = torch.nn.functional.interpolate(
        t, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return (torch.round(t.clamp(0, 1) * 255) / 255)[0].permute(1, 2, 0).numpy()


def _channels(img: np.ndarray, channels: int) -> np.ndarray:
    if img.shape[2] == channels:
        return img
    if channels == 3:
        return np.repeat(img, 3, axis=2)
    return img.mean(axis=2, keepdims=True)
