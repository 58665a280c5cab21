"""FRI runs over several images: npz maps, PNG figures, and the FRI-pair stimulus set for people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model_eval.fri.maps import FRI_KINDS, FriResult, extract_crops, fri_for_side, is_correct, side_for_ratio
from model_eval.nets.checkpoint import Classifier, LoadedCheckpoint
from model_eval.runtime import distributed
from model_eval.runtime.device import autocast, prepare_model, to_device


def save_maps(path: Path, image: np.ndarray, label: int, results: list[FriResult]) -> None:
    """One npz per image: the image, and per side its prediction / correctness / FRI maps."""
    arrays: dict[str, Any] = {
        "image": image,
        "label": np.int64(label),
        "sides": np.array([r.side for r in results]),
        "ratios": np.array([r.ratio for r in results]),
    }
    for r in results:
        arrays[f"s{r.side}_pred"] = r.regions.pred
        arrays[f"s{r.side}_prob_true"] = r.regions.prob_true
        arrays[f"s{r.side}_shrunk_pred"] = r.shrunk.pred
        arrays[f"s{r.side}_correct"] = r.correct_map
        for k in FRI_KINDS:
            arrays[f"s{r.side}_{k}"] = r.maps[k]
    np.savez_compressed(path, **arrays)


def plot_maps(path: Path, image: np.ndarray, results: list[FriResult], title: str) -> None:
    """Figure like the paper's: the image, then per side the correctness map and the four FRI maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2 + len(FRI_KINDS)
    fig, axes = plt.subplots(len(results), cols, figsize=(2.1 * cols, 2.2 * len(results)), squeeze=False)
    for row, r in zip(axes, results, strict=True):
        row[0].imshow(np.clip(image.squeeze(), 0, 1), cmap="gray" if image.shape[-1] == 1 else None)
        row[0].set_title(f"side {r.side} (r={r.ratio:.2f})", fontsize=8)
        row[1].imshow(r.correct_map, cmap="RdYlGn", vmin=0, vmax=1)
        row[1].set_title(f"correct {r.fractions['correct']:.2f}", fontsize=8)
        for ax, k in zip(row[2:], FRI_KINDS, strict=True):
            ax.imshow(r.maps[k], cmap="magma", vmin=0, vmax=1)
            ax.set_title(f"{k.replace('_', ' ')} {r.fractions[k]:.2f}", fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PAIR_CONDITIONS = ("fri", "fri_partner")
"""Manifest conditions of a pair: the crop the model gets right, then the changed crop it gets wrong."""
STRICTNESS = ("loose", "strict")


@dataclass(frozen=True)
class PairSelection:
    """Which FRI pairs to export.

    Candidates are regions the model classifies correctly that are FRIs of ``strictness`` for a
    ``kind``; a candidate's partner is one of its flipping changes, drawn at random. With ``sample``
    set, that many pairs are drawn uniformly from the candidates of every image and region side (the
    paper "randomly sample[s] 40 DNN shrink FRIs"); without it, ``per_image`` pairs per image, side and
    kind, strict FRIs first.
    """

    kinds: tuple[str, ...] = ("shift", "shrink")
    strictness: str = "loose"
    sample: int | None = None
    per_image: int = 2
    seed: int = 0
    topk: int = 1

    def __post_init__(self) -> None:
        if not self.kinds or set(self.kinds) - {"shift", "shrink"}:
            raise ValueError(f"FRI kinds must be shift and/or shrink, got {list(self.kinds)}")
        if self.strictness not in STRICTNESS:
            raise ValueError(f"strictness must be one of {STRICTNESS}, got {self.strictness!r}")
        if self.sample is not None and self.sample < 1:
            raise ValueError(f"--sample must be positive, got {self.sample}")
        if self.per_image < 1:
            raise ValueError(f"--pairs-per-kind must be positive, got {self.per_image}")
        if self.topk < 1:
            raise ValueError(f"--topk must be positive, got {self.topk}")


@dataclass(frozen=True)
class Pair:
    """One exported pair: the FRI region (correct) and its changed partner crop (wrong)."""

    image: int
    result: int  # index of the region side among the image's results
    kind: str
    fri: tuple[int, int, int]  # (y, x, side)
    partner: tuple[int, int, int]


def _candidates(result: FriResult, kind: str, strictness: str) -> list[tuple[int, int]]:
    """Full-grid (y, x) of correct regions that are ``strictness`` FRIs of ``kind``."""
    grid = result.maps[f"{strictness}_{kind}"] & result.correct_map
    return [(int(a) * result.stride, int(b) * result.stride) for a, b in np.argwhere(grid)]


def _partner(result: FriResult, kind: str, y: int, x: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """One flipping change of the (correct) region at (y, x), drawn at random: a crop the model gets wrong."""
    correct, small = result.regions.correct, result.shrunk.correct
    if kind == "shift":
        moves = [
            (y + dy, x + dx)
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
            if 0 <= y + dy < correct.shape[0] and 0 <= x + dx < correct.shape[1]
        ]
        flips = [m for m in moves if not correct[m]]
        side = result.side
    else:
        flips = [(y + dy, x + dx) for dy in range(3) for dx in range(3) if not small[y + dy, x + dx]]
        side = result.side - 2
    cy, cx = flips[int(rng.integers(len(flips)))]
    return cy, cx, side


def _shown_crops(chw: torch.Tensor, boxes: tuple, size: int) -> list[torch.Tensor]:
    """The crops as people will see them: resized to the network input, snapped to the 8-bit PNG grid."""
    return [
        torch.round(extract_crops(chw, torch.tensor([x]), torch.tensor([y]), s, size)[0].clamp(0, 1) * 255.0)
        / 255.0
        for y, x, s in boxes
    ]


def _still_right_then_wrong(
    model: torch.nn.Module, crops: list[torch.Tensor], label: int, device: torch.device, topk: int
) -> bool:
    """Keep a pair only if, once 8-bit quantised, the model still gets the FRI right and the partner wrong."""
    with torch.inference_mode(), autocast(device):
        logits = model(to_device(torch.stack(crops), device)).float()
    ok = is_correct(F.softmax(logits, dim=1), label, topk).cpu()
    return bool(ok[0]) and not bool(ok[1])


def select_pairs(
    model: Classifier,
    images: np.ndarray,
    labels: np.ndarray,
    results: list[list[FriResult]],
    selection: PairSelection,
    device: torch.device,
) -> list[Pair]:
    """The exported pairs, reproducible from ``selection.seed`` and the maps (same on any number of ranks)."""
    rng = np.random.default_rng(selection.seed)
    size = int(model.input_size)
    chws: dict[int, torch.Tensor] = {}

    def keep(pair: Pair) -> bool:
        if pair.image not in chws:
            chws[pair.image] = (
                torch.from_numpy(np.ascontiguousarray(images[pair.image], dtype=np.float32))
                .permute(2, 0, 1)
                .to(device)
            )
        crops = _shown_crops(chws[pair.image], (pair.fri, pair.partner), size)
        return _still_right_then_wrong(model, crops, int(labels[pair.image]), device, selection.topk)

    def pair_at(n: int, k: int, kind: str, y: int, x: int) -> Pair:
        r = results[n][k]
        return Pair(n, k, kind, (y, x, r.side), _partner(r, kind, y, x, rng))

    chosen: list[Pair] = []
    if selection.sample is not None:
        pool = [
            (n, k, kind, y, x)
            for n, per_image in enumerate(results)
            for k, r in enumerate(per_image)
            for kind in selection.kinds
            for y, x in _candidates(r, kind, selection.strictness)
        ]
        used: set[tuple[int, int, int, int]] = set()  # a region found for both kinds is drawn once
        for i in rng.permutation(len(pool)):
            if len(chosen) == selection.sample:
                break
            n, k, kind, y, x = pool[int(i)]
            if (n, k, y, x) in used:
                continue
            pair = pair_at(n, k, kind, y, x)
            if keep(pair):
                chosen.append(pair)
                used.add((n, k, y, x))
        return chosen
    for n, per_image in enumerate(results):
        for k, r in enumerate(per_image):
            for kind in selection.kinds:
                strict = _candidates(r, kind, "strict")
                tiers = (
                    [strict]
                    if selection.strictness == "strict"
                    else [strict, sorted(set(_candidates(r, kind, "loose")) - set(strict))]
                )
                taken = 0
                for tier in tiers:
                    for i in rng.permutation(len(tier)):
                        if taken == selection.per_image:
                            break
                        pair = pair_at(n, k, kind, *tier[int(i)])
                        if keep(pair):
                            chosen.append(pair)
                            taken += 1
    return chosen


def pair_rows(
    pairs: list[Pair],
    images: np.ndarray,
    labels: np.ndarray,
    source_ids: list[str],
    results: list[list[FriResult]],
    model_name: str,
    input_size: int,
    device: torch.device | str = "cpu",
) -> tuple[list[dict], list[np.ndarray]]:
    """Manifest rows and shown images of the pairs: each pair its own ``pair_id`` and ``source_id``.

    Both crops of a pair share a source_id of their own (``<image source>#<pair_id>``), so trial lists
    show every pair to two participant groups, one crop each (study_server.lists).
    """
    rows: list[dict] = []
    shown: list[np.ndarray] = []
    for k, pair in enumerate(pairs):
        pair_id = f"p{k:04d}"
        chw = torch.from_numpy(np.ascontiguousarray(images[pair.image], dtype=np.float32)).permute(2, 0, 1)
        crops = _shown_crops(chw.to(device), (pair.fri, pair.partner), input_size)  # as select_pairs cut them
        region = results[pair.image][pair.result].side
        for cond, crop, (y, x, side) in zip(PAIR_CONDITIONS, crops, (pair.fri, pair.partner), strict=True):
            rows.append(
                {
                    "source_id": f"{source_ids[pair.image]}#{pair_id}",
                    "label": int(labels[pair.image]),
                    "family": "fri",
                    "condition": cond,
                    "pair_id": pair_id,
                    "fri_kind": pair.kind,
                    "region_size": region,
                    "x": x,
                    "y": y,
                    "side": side,
                    "model": model_name,
                    "catch": False,
                }
            )
            shown.append(crop.permute(1, 2, 0).cpu().numpy())
    return rows, shown


def run_fri(
    ckpt: LoadedCheckpoint,
    images: np.ndarray,
    labels: np.ndarray,
    source_ids: list[str],
    *,
    ratios: list[float],
    stride: int,
    out_dir: Path,
    device: torch.device,
    model_name: str,
    batch_size: int = 512,
    selection: PairSelection | None = None,
    export: bool = True,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[dict], list[np.ndarray]]:
    """Maps for every image and ratio; returns (fractions table, FRI pair rows, pair images).

    Under torchrun each rank maps its share of the images (``distributed.shard``) and writes their
    files; the maps are gathered and rank 0 selects the pairs, so the result equals a one-process run.
    Ranks other than 0 return an empty table and no pairs.
    """
    selection = selection or PairSelection()
    out_dir.mkdir(parents=True, exist_ok=True)
    model = prepare_model(ckpt.classifier, device).eval()  # channels-last on CUDA
    mine: list[tuple[int, list[FriResult], list[dict]]] = []
    indices = list(distributed.shard(len(images)))
    for n in tqdm(indices, desc="FRI maps", disable=not progress):
        img, label, sid = images[n], int(labels[n]), source_ids[n]
        chw = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).to(device)
        results, frac_rows = [], []
        for ratio in ratios:
            side = side_for_ratio(ratio, min(img.shape[:2]))
            r = fri_for_side(
                model,
                chw,
                label,
                side,
                stride=stride,
                ratio=ratio,
                batch_size=batch_size,
                device=device,
                topk=selection.topk,
            )
            results.append(r)
            frac_rows.append(
                {
                    "model": model_name,
                    "image": n,
                    "source_id": sid,
                    "label": label,
                    "ratio": ratio,
                    "side": side,
                    "regions": int(r.correct_map.size),
                    **r.fractions,
                }
            )
        save_maps(out_dir / f"fri_maps_{n:03d}.npz", img, label, results)
        plot_maps(out_dir / f"fri_maps_{n:03d}.png", img, results, f"{model_name}: image {n}, label {label}")
        mine.append((n, results, frac_rows))
    gathered = sorted((t for part in distributed.gather_objects(mine) for t in part), key=lambda t: t[0])
    if distributed.rank_and_world()[0] != 0:
        return pd.DataFrame(), [], []
    all_results = [t[1] for t in gathered]
    fractions = pd.DataFrame([row for t in gathered for row in t[2]])
    fractions.to_csv(out_dir / "fri_fractions.csv", index=False)
    if not export:
        return fractions, [], []
    pairs = select_pairs(model, images, labels, all_results, selection, device)
    rows, shown = pair_rows(
        pairs, images, labels, source_ids, all_results, model_name, int(model.input_size), device
    )
    return fractions, rows, shown
