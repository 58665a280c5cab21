"""The typed entry point for FRI maps: map a checkpoint's fragile regions, optionally export the pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model_eval.fri.pairs import PairSelection, run_fri
from model_eval.fri.rates import fri_rates, plot_fri_rates
from model_eval.reproduce.papers.srivastava import PRESETS

FRI_COLUMNS = ["correct", "loose_shift", "strict_shift", "loose_shrink", "strict_shrink"]


@dataclass(frozen=True)
class FriRun:
    """What :func:`fri_maps` found: per-image fractions, their mean per (ratio, side), and the export.

    ``exported_pairs`` is ``None`` without an export; ``main_rank`` is False on a torchrun rank other
    than 0, which returns empty tables.
    """

    model: str
    n_images: int
    image_size: int
    fractions: pd.DataFrame
    summary: pd.DataFrame
    selection: PairSelection
    out: Path
    export: Path | None
    exported_pairs: int | None
    main_rank: bool = True


def pair_selection(
    *,
    kind: str = "both",
    strictness: str = "loose",
    sample: int | None = None,
    pairs_per_kind: int = 2,
    seed: int = 0,
    topk: int = 1,
    preset: str | None = None,
) -> PairSelection:
    """The pair selection from the options, a preset filling what the user left unset."""
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS.get(preset or "", {})
    sample = sample if sample is not None else chosen.get("sample")
    kind = kind if kind != "both" or not chosen else chosen["kind"]
    kinds = ("shift", "shrink") if kind == "both" else (kind,)
    return PairSelection(
        kinds=kinds, strictness=strictness, sample=sample, per_image=pairs_per_kind, seed=seed, topk=topk
    )


def preset_groups(preset: str, source: str) -> str:
    """The label grouping people answer among under ``preset`` for a source: the paper used its 10
    ImageNet supercategories; a GTSRB study (real or synthetic signs) answers among the GTSRB
    superclasses instead; any other source must name its own mapping."""
    chosen = PRESETS[preset]
    if source in ("synthetic", "gtsrb"):
        return str(chosen["gtsrb_groups"])
    raise ValueError(
        f"--preset {preset}: people answered among the paper's {len(chosen['paper_groups'])} supercategories "
        f"({', '.join(chosen['paper_groups'])}); for source {source!r} pass --groups with a class_id,group "
        "CSV that places every class"
    )


def fri_maps(
    model: str | Path,
    out: str | Path,
    *,
    source: str = "synthetic",
    root: str | None = None,
    split: str = "test",
    n_images: int = 4,
    image_size: int | None = 48,
    ratios: Sequence[float] = (0.6, 0.7, 0.8, 0.9),
    sides: Sequence[int] | None = None,
    stride: int = 1,
    batch_size: int = 512,
    export: str | Path | None = None,
    selection: PairSelection | None = None,
    groups: str | None = None,
    preset: str | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> FriRun:
    """Classify every square crop per region side of ``n_images`` source images; write npz + PNG maps
    and ``fri_fractions.csv`` to ``out``, and with ``export`` the FRI pairs as a stimulus set."""
    import stimuli
    from model_eval.data import pick_images
    from model_eval.nets.checkpoint import check_fits_source, load_checkpoint
    from model_eval.runtime import distributed
    from model_eval.runtime.device import pick_device

    selection = selection or pair_selection(seed=seed, preset=preset)
    out, export = Path(out), Path(export) if export is not None else None
    if export is not None and export.exists() and any(export.iterdir()):
        raise ValueError(f"--export directory {export} exists and is not empty")
    if groups is not None and export is None:
        raise ValueError("--groups declares label groups in the exported set: give --export too")
    if preset is not None and groups is None and export is not None:
        groups = preset_groups(preset, source)
    _rank, _world, dist_device = distributed.init_if_needed(device)
    dev = dist_device or pick_device(device)
    ckpt = load_checkpoint(model, device=dev)
    size = image_size or ckpt.classifier.input_size
    src, images, labels, sids = pick_images(
        source, root=root, split=split, n_images=n_images, size=size, seed=seed
    )
    check_fits_source(ckpt, len(src.classes), src.channels, source)
    label_groups = stimuli.load_label_groups(groups, list(src.classes)) if groups else None
    chosen_ratios = [s / size for s in sides] if sides else list(ratios)
    fractions, rows, pair_images = run_fri(
        ckpt,
        images,
        labels,
        sids,
        ratios=chosen_ratios,
        stride=stride,
        out_dir=out,
        device=dev,
        model_name=ckpt.name,
        batch_size=batch_size,
        selection=selection,
        export=export is not None,
        progress=progress,
    )
    if distributed.rank_and_world()[0] != 0:
        empty = pd.DataFrame()
        return FriRun(ckpt.name, len(images), size, empty, empty, selection, out, export, None, False)
    summary = fractions.groupby(["ratio", "side"])[FRI_COLUMNS].mean()
    plot_fri_rates(fri_rates(fractions), out / "fri_rates.png", f"{ckpt.name}: FRI rate against region size")
    n_pairs = None
    if export is not None:
        if not rows:
            raise ValueError("no FRI pairs were found, so there is no stimulus set to export")
        n_pairs = len(rows) // 2
        legend = {c.id: src.legend_image(c.id) for c in src.classes}
        params = {
            "model": ckpt.name,
            "ratios": chosen_ratios,
            "stride": stride,
            "image_size": size,
            "kinds": list(selection.kinds),
            "strictness": selection.strictness,
            "sample": selection.sample,
            "topk": selection.topk,
            "preset": preset,
        }
        stimuli.write_stimulus_set(
            export,
            rows,
            pair_images,
            list(src.classes),
            legend,
            name=f"fri-{ckpt.name}",
            seed=seed,
            source=src.name,
            params=params,
            label_groups=label_groups,
            progress=progress,
        )
    return FriRun(ckpt.name, len(images), size, fractions, summary, selection, out, export, n_pairs)
