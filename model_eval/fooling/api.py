"""The typed entry point for fooling images: run the searches on a checkpoint, optionally export a set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from model_eval.fooling.report import export_fooling_set, run_fooling
from model_eval.fooling.search import FoolConfig, FoolResult


@dataclass(frozen=True)
class FoolingRun:
    """One result per search, the network's class names, and where the set went (``None``: no export)."""

    model: str
    device: torch.device
    results: list[FoolResult]
    class_names: dict[int, str]
    export: Path | None


def fool(
    model: str | Path,
    out: str | Path,
    *,
    configs: Sequence[FoolConfig],
    export: str | Path | None = None,
    export_min_confidence: float = 0.0,
    catch_fraction: float = 0.1,
    source: str | None = None,
    root: str | None = None,
    split: str = "test",
    seed: int = 0,
    device: str | None = None,
    progress: bool = True,
) -> FoolingRun:
    """Search, per class, for images the network labels with each config's target confidence (Nguyen et
    al. 2015); write the best image per class, summary.csv, archive.csv and figures to ``out``; with
    ``export``, also a stimulus set of family 'fooling' with source images as catch trials."""
    from model_eval.nets.checkpoint import CheckpointError, load_checkpoint
    from model_eval.runtime.device import pick_device

    for cfg in configs:
        cfg.check()
    encodings = [c.encoding for c in configs]
    if len(set(encodings)) != len(encodings):
        raise ValueError("--encodings names an encoding twice")
    if not 0.0 <= catch_fraction < 1.0 or not 0.0 <= export_min_confidence <= 1.0:
        raise ValueError("--catch-fraction must lie in [0, 1) and --export-min-confidence in [0, 1]")
    export = Path(export) if export is not None else None
    if export is not None and export.exists() and (not export.is_dir() or any(export.iterdir())):
        raise ValueError(f"--export directory {export} exists and is not empty")
    dev = pick_device(device)
    ckpt = load_checkpoint(model, device=dev)
    src = None
    if export is not None:  # read the source first: a missing data set fails before the search
        import stimuli

        trained = ckpt.data.get("config", {})
        name = source or trained.get("source") or "synthetic"
        where = root if source or root else trained.get("root")
        src = stimuli.get_source(name, root=where, split=split, size=ckpt.classifier.input_size, seed=seed)
        if [int(c.id) for c in src.classes] != [int(c["id"]) for c in ckpt.classes]:
            raise CheckpointError(
                f"checkpoint {ckpt.path} has {ckpt.num_classes} classes but source "
                f"{name!r} has {len(src.classes)}: legend and catch images must match"
            )
    results = run_fooling(ckpt, list(configs), Path(out), device=dev, progress=progress)
    if export is not None:
        export_fooling_set(
            export,
            results,
            src,
            model_name=ckpt.name,
            seed=seed,
            catch_fraction=catch_fraction,
            min_confidence=export_min_confidence,
            progress=progress,
        )
    names = {int(c["id"]): str(c["name"]) for c in ckpt.classes}
    return FoolingRun(ckpt.name, dev, results, names, export)
