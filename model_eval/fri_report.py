"""FRI runs over several images: npz maps, PNG figures, and the FRI-pair stimulus set for people."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from model_eval.checkpoint import LoadedCheckpoint
from model_eval.device import autocast, to_device
from model_eval.fri import FRI_KINDS, FriResult, extract_crops, fri_for_side, side_for_ratio


def save_maps(path: Path, image: np.ndarray, label: int, results: list[FriResult]) -> None:
    """One npz per image: the image, and per side its prediction / correctness / FRI maps."""
    arrays: dict[str, Any] = {"image": image, "label": np.int64(label),
                              "sides": np.array([r.side for r in results]),
                              "ratios": np.array([r.ratio for r in results])}
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


def _pairs(result: FriResult, kind: str, rng: np.random.Generator, limit: int) -> list[tuple]:
    """Up to ``limit`` (region (y, x), counterpart (y, x, side)) pairs, strict FRIs first."""
    stride = result.stride
    strict, loose = result.maps[f"strict_{kind}"], result.maps[f"loose_{kind}"]
    chosen: list[tuple[int, int]] = []
    for grid in (strict, loose & ~strict):
        cand = np.argwhere(grid)
        rng.shuffle(cand)
        chosen += [(int(a) * stride, int(b) * stride) for a, b in cand[: limit - len(chosen)]]
    correct, small = result.regions.correct, result.shrunk.correct
    out = []
    for y, x in chosen:
        if kind == "shift":
            moves = [(y + dy, x + dx) for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
                     if 0 <= y + dy < correct.shape[0] and 0 <= x + dx < correct.shape[1]]
            flips = [m for m in moves if correct[m] != correct[y, x]]
            cy, cx = flips[int(rng.integers(len(flips)))]
            out.append(((y, x), (cy, cx, result.side)))
        else:
            moves = [(y + dy, x + dx) for dy in range(3) for dx in range(3)]
            flips = [m for m in moves if small[m] != correct[y, x]]
            cy, cx = flips[int(rng.integers(len(flips)))]
            out.append(((y, x), (cy, cx, result.side - 2)))
    return out


def _shown_crops(chw: torch.Tensor, boxes: tuple, size: int) -> list[torch.Tensor]:
    """The crops as people will see them: resized to the network input, snapped to the 8-bit PNG grid."""
    return [torch.round(extract_crops(chw, torch.tensor([x]), torch.tensor([y]), s, size)[0].clamp(0, 1)
                        * 255.0) / 255.0 for y, x, s in boxes]


def _still_flips(model: torch.nn.Module, crops: list[torch.Tensor], label: int, device: torch.device) -> bool:
    """Keep a pair only if the model still answers one crop right and the other wrong after quantisation."""
    with torch.inference_mode(), autocast(device):
        pred = model(to_device(torch.stack(crops), device)).float().argmax(1).cpu()
    return bool((pred[0] == label) != (pred[1] == label))


def run_fri(ckpt: LoadedCheckpoint, images: np.ndarray, labels: np.ndarray, source_ids: list[str], *,
            ratios: list[float], stride: int, out_dir: Path, device: torch.device, model_name: str,
            batch_size: int = 512, pairs_per_kind: int = 2,
            progress: bool = True) -> tuple[pd.DataFrame, list[dict], list[np.ndarray]]:
    """Maps for every image and ratio; returns (fractions table, FRI pair rows, pair images).

    Up to ``pairs_per_kind`` shift and shrink pairs per image and ratio (strict FRIs first), each kept
    only if the flip survives the 8-bit quantisation of the written PNGs.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    model = ckpt.classifier.to(device).eval()
    input_size = model.input_size
    rng = np.random.default_rng(0)
    frac_rows, pair_rows, pair_images = [], [], []
    pair_id = 0
    for n, (img, label, sid) in enumerate(tqdm(list(zip(images, labels, source_ids, strict=True)),
                                               desc="FRI maps", disable=not progress)):
        chw = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).to(device)
        results = []
        for ratio in ratios:
            side = side_for_ratio(ratio, min(img.shape[:2]))
            r = fri_for_side(model, chw, int(label), side, stride=stride, ratio=ratio, batch_size=batch_size,
                             device=device)
            results.append(r)
            frac_rows.append({"model": model_name, "image": n, "source_id": sid, "label": int(label),
                              "ratio": ratio, "side": side, "regions": int(r.correct_map.size),
                              **r.fractions})
            for kind in ("shift", "shrink"):
                for (y, x), (cy, cx, cside) in _pairs(r, kind, rng, limit=pairs_per_kind):
                    crops = _shown_crops(chw, ((y, x, side), (cy, cx, cside)), input_size)
                    if not _still_flips(model, crops, int(label), device):
                        continue
                    for cond, crop, (yy, xx, s_) in zip(("fri", "fri_counterpart"), crops,
                                                        ((y, x, side), (cy, cx, cside)), strict=True):
                        pair_rows.append({"source_id": sid, "label": int(label), "family": "fri",
                                          "condition": cond, "pair_id": f"p{pair_id}", "fri_kind": kind,
                                          "region_size": side, "x": xx, "y": yy, "side": s_,
                                          "model": model_name, "catch": False})
                        pair_images.append(crop.permute(1, 2, 0).cpu().numpy())
                    pair_id += 1
        save_maps(out_dir / f"fri_maps_{n:03d}.npz", img, int(label), results)
        plot_maps(out_dir / f"fri_maps_{n:03d}.png", img, results, f"{model_name}: image {n}, label {label}")
    fractions = pd.DataFrame(frac_rows)
    fractions.to_csv(out_dir / "fri_fractions.csv", index=False)
    return fractions, pair_rows, pair_images
