"""Predictions on a stimulus set in the shared contract (one row per model x stimulus)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model_eval.nets.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint
from model_eval.runtime import distributed
from model_eval.runtime.device import autocast, pick_device, prepare_model, to_device

if TYPE_CHECKING:
    from stimuli import StimulusSet

PREDICTION_COLUMNS = (
    "model",
    "stimulus_id",
    "response",
    "confidence",
    "prob_true",
    "top1",
    "top2",
    "top3",
    "top4",
    "top5",
)
GROUP_COLUMNS = ("group_top1", "group_summed", "prob_true_group")
"""Added when the set declares label groups (stimuli.label_groups): the group of the top-1 class, the
group with the largest summed probability, and the summed probability of the true class's group."""


class StimulusSetInvalid(ValueError):
    """The stimulus set fails ``stimuli.validate_stimulus_set``."""


def load_valid_stimulus_set(stimuli_dir: str | Path) -> StimulusSet:
    """Load a stimulus set, refusing one that fails ``stimuli.validate_stimulus_set`` (clear message)."""
    import stimuli

    if not Path(stimuli_dir).is_dir():
        raise StimulusSetInvalid(f"stimulus set {stimuli_dir} is not a directory")
    try:
        return stimuli.load_stimulus_set(stimuli_dir)  # runs validate_stimulus_set first
    except stimuli.StimulusSetError as exc:
        raise StimulusSetInvalid(str(exc)) from None


def _image_tensor(img: np.ndarray, channels: int) -> torch.Tensor:
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] != channels:
        if channels == 1:  # luminance (ITU-R BT.601), for an RGB set shown to a gray network
            img = img[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]
        else:
            img = np.repeat(img[:, :, :1], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)


def _batches(
    set_: StimulusSet, ids: list[str], channels: int, size: int, batch_size: int
) -> Iterator[tuple[list[str], torch.Tensor]]:
    for s in range(0, len(ids), batch_size):
        chunk = []
        for sid in ids[s : s + batch_size]:
            t = _image_tensor(set_.image(sid), channels)
            if t.shape[-1] != size or t.shape[-2] != size:  # stimuli may differ in size; unify on CPU
                t = F.interpolate(
                    t[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
                )[0].clamp(0, 1)
            chunk.append(t)
        yield ids[s : s + batch_size], torch.stack(chunk)


def predict_loaded(
    ckpt: LoadedCheckpoint,
    set_: StimulusSet,
    *,
    name: str,
    device: torch.device,
    batch_size: int = 256,
    progress: bool = True,
) -> pd.DataFrame:
    """Predictions of one loaded classifier on every stimulus of a loaded set (sharded under torchrun)."""
    manifest = set_.manifest
    if len(set_.classes) != ckpt.num_classes:
        raise CheckpointError(
            f"checkpoint {ckpt.path} is for {ckpt.num_classes} classes but stimulus set "
            f"{set_.name!r} has {len(set_.classes)}"
        )
    all_ids = [str(s) for s in manifest["stimulus_id"]]
    ids = [all_ids[i] for i in distributed.shard(len(all_ids))]
    labels = dict(zip(all_ids, manifest["label"].astype(int), strict=True))
    model = prepare_model(ckpt.classifier, device).eval()
    k = min(5, ckpt.num_classes)
    groups = _group_matrix(set_, ckpt.num_classes)
    rows: list[tuple] = []
    bar = tqdm(total=len(ids), desc=f"predict {name}", disable=not progress, leave=False)
    with torch.inference_mode():
        for bid, x in _batches(set_, ids, ckpt.in_channels, model.input_size, batch_size):
            with autocast(device):
                logits = model(to_device(x, device))
            probs = F.softmax(logits.float(), dim=1).cpu()
            top_p, top_i = probs.topk(k, dim=1)
            gp = probs @ groups[0] if groups is not None else None
            for j, sid in enumerate(bid):
                top = top_i[j].tolist() + [None] * (5 - k)
                extra = (
                    ()
                    if groups is None or gp is None
                    else (
                        int(groups[1][top_i[j, 0]]),
                        int(gp[j].argmax()),
                        float(gp[j, groups[1][labels[sid]]]),
                    )
                )
                rows.append(
                    (
                        name,
                        sid,
                        int(top_i[j, 0]),
                        float(top_p[j, 0]),
                        float(probs[j, labels[sid]]),
                        *top,
                        *extra,
                    )
                )
            bar.update(len(bid))
    bar.close()
    gathered = [r for part in distributed.gather_objects(rows) for r in part]
    order = {sid: i for i, sid in enumerate(all_ids)}
    gathered.sort(key=lambda r: order[r[1]])
    df = pd.DataFrame(
        gathered, columns=list(PREDICTION_COLUMNS) + (list(GROUP_COLUMNS) if groups is not None else [])
    )
    for c in ("top1", "top2", "top3", "top4", "top5"):
        df[c] = df[c].astype("Int64")
    return df


def _group_matrix(set_: StimulusSet, num_classes: int) -> tuple[torch.Tensor, list[int]] | None:
    """(classes x groups one-hot matrix, group id per class) of the set's label groups, or None."""
    import stimuli

    declared = set_.meta.get("label_groups")
    if not declared:
        return None
    group_of = stimuli.class_to_group(declared)
    ids = [int(c.id) for c in set_.classes]  # the checkpoint numbers its outputs in this order
    per_output = [group_of[cid] for cid in ids]
    m = torch.zeros(num_classes, len(declared["groups"]))
    m[torch.arange(num_classes), torch.tensor(per_output)] = 1.0
    return m, per_output


def predict_stimulus_set(
    checkpoints: Sequence[str | Path],
    stimuli_dir: str | Path,
    *,
    names: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> pd.DataFrame:
    """Predictions of every checkpoint on every stimulus, in the predictions contract.

    ``names`` overrides the model names stored in the checkpoints (one per checkpoint).
    """
    if names is not None and len(names) != len(checkpoints):
        raise ValueError(f"{len(names)} names given for {len(checkpoints)} checkpoints")
    return predict_on_set(
        checkpoints,
        load_valid_stimulus_set(stimuli_dir),
        names=names,
        device=device,
        batch_size=batch_size,
        progress=progress,
    )


def predict_on_set(
    checkpoints: Sequence[str | Path],
    set_: StimulusSet,
    *,
    names: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`predict_stimulus_set` for a stimulus set that is already loaded (and so validated)."""
    if names is not None and len(names) != len(checkpoints):
        raise ValueError(f"{len(names)} names given for {len(checkpoints)} checkpoints")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    loaded = [load_checkpoint(p) for p in checkpoints]
    model_names = list(names) if names is not None else [c.name for c in loaded]
    dupes = sorted({n for n in model_names if model_names.count(n) > 1})
    if dupes:
        raise ValueError(f"two checkpoints share the model name {dupes[0]!r}; give --name for each")
    set_ids = [int(c.id) for c in set_.classes]
    for c in loaded:
        if len(set_.classes) != c.num_classes:
            raise CheckpointError(
                f"checkpoint {c.path} is for {c.num_classes} classes but stimulus set "
                f"{set_.name!r} has {len(set_.classes)}"
            )
        if [int(k["id"]) for k in c.classes] != set_ids:
            raise CheckpointError(
                f"checkpoint {c.path} and stimulus set {set_.name!r} number their classes differently"
            )
    frames = [
        predict_loaded(c, set_, name=n, device=dev, batch_size=batch_size, progress=progress)
        for c, n in zip(loaded, model_names, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def accuracy_table(predictions: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per model (rows) x condition (columns), catch trials excluded."""
    m = manifest[["stimulus_id", "label", "condition", "catch"]].copy()
    m["catch"] = m["catch"].astype(str).str.lower().isin({"true", "1"})
    df = predictions.merge(m[~m["catch"]], on="stimulus_id", how="inner")
    df["correct"] = df["response"].astype(int) == df["label"].astype(int)
    table = df.pivot_table(index="model", columns="condition", values="correct", aggfunc="mean")
    table.columns.name = None
    return table.sort_index()
