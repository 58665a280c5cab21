"""Build stimulus sets from an image source: stratified sources, conditions, catch trials, legend.

Presets (defaults chosen so each is a sensible human study that builds in seconds):
- negative: Hosseini et al. 2017 on synthetic signs: regular, negative, gray, gray_negative of
  4 sources per class (4 x 43 x 4 = 688 stimuli) + catch trials (~10% of a participant's trials).
- noise: Aghdam et al. 2016: regular + Gaussian noise at sigma 1,2,4,8,10,14,18,20,25,30,35,40
  (0-255 scale) of 2 sources per class, PSNR recorded per image, + catch trials.
- regular: 5 clear images per class, regular only (a baseline or practice set), + catch trials.

Determinism: the seed decides every image (the same seed gives the same pixels for each source and condition);
stimulus and source ids are fresh random ids and rows are shuffled on every build (see stimuli.stimulus_set).
Without a seed a build draws a secret one (`secrets`) and records it in stimulus_set.json, which the study
server never serves: anyone holding this code can rebuild a set from a guessed seed and look up each
image's class and condition, so a study's set must not come from a seed that can be guessed (such as 0).

Exactness on disk: every source image is first quantised to the 8-bit grid (round(255 x)/255), and gray
images are quantised before negation, so a written negative pixel is exactly 255 - p of its positive.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .base import ImageSource, sharpness, stratified_indices
from .sources import get_source
from .stimulus_set import new_ids, write_stimulus_set
from .transforms import equalize_histogram, gaussian_noise, grayscale, negative, psnr, quantize

AGHDAM_SIGMAS = (1, 2, 4, 8, 10, 14, 18, 20, 25, 30, 35, 40)
COLOR_CONDITIONS = ("regular", "negative", "gray", "gray_negative")


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a stimulus set's images (ids and row order are random on every build)."""

    preset: str
    family: str
    conditions: tuple[str, ...]
    sigmas: tuple[float, ...] = ()
    source: str = "synthetic"
    root: str | None = None
    split: str = "test"
    size: int = 32
    n_per_class: int = 4
    catch_fraction: float = 0.1
    seed: int | None = None
    """None: a fresh secret seed per build (recorded in the set); give one only to reproduce a set."""
    equalize: bool = False
    roi_crop: bool = False
    legend_index: dict[int, int] = field(default_factory=dict)
    download: bool = False
    practice_per_class: int = 1
    """Held-out images per class for the participants' practice trials (never a stimulus or a legend)."""

    def params(self) -> dict:
        return {
            "preset": self.preset,
            "family": self.family,
            "conditions": list(self.conditions),
            "sigmas": list(self.sigmas),
            "split": self.split,
            "size": self.size,
            "n_per_class": self.n_per_class,
            "catch_fraction": self.catch_fraction,
            "equalize": self.equalize,
            "roi_crop": self.roi_crop,
            "legend_index": {str(k): v for k, v in sorted(self.legend_index.items())},
            "practice_per_class": self.practice_per_class,
        }


PRESETS: dict[str, BuildConfig] = {
    "negative": BuildConfig(preset="negative", family="negative", conditions=COLOR_CONDITIONS, n_per_class=4),
    "noise": BuildConfig(
        preset="noise", family="noise", conditions=("regular",), sigmas=AGHDAM_SIGMAS, n_per_class=2
    ),
    "regular": BuildConfig(preset="regular", family="regular", conditions=("regular",), n_per_class=5),
}


def preset_config(preset: str, **overrides: Any) -> BuildConfig:
    """The preset's config with the given fields replaced (None values are ignored; `_check` validates)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
    _check(cfg)
    return cfg


def _check(cfg: BuildConfig) -> None:
    bad = [c for c in cfg.conditions if c not in COLOR_CONDITIONS]
    if bad:
        raise ValueError(f"unknown conditions {bad}; choose from {', '.join(COLOR_CONDITIONS)}")
    if not cfg.conditions and not cfg.sigmas:
        raise ValueError("a stimulus set needs at least one condition or noise sigma")
    for s in cfg.sigmas:
        if not (math.isfinite(s) and 0 < s <= 255):
            raise ValueError(f"noise sigma must be in (0, 255] on the 0-255 scale, got {s}")
    if not 1 <= cfg.n_per_class <= 10000:
        raise ValueError(f"n_per_class must be in 1..10000, got {cfg.n_per_class}")
    if not 0.0 <= cfg.catch_fraction <= 1.0:
        raise ValueError(f"catch fraction must be in [0, 1], got {cfg.catch_fraction}")
    if not 8 <= cfg.size <= 1024:
        raise ValueError(f"size must be in 8..1024, got {cfg.size}")


def condition_image(xq: np.ndarray, condition: str) -> np.ndarray:
    """One colour condition of a quantised source image (result is on the 8-bit grid too)."""
    if condition == "regular":
        return xq.copy()
    if condition == "negative":
        return negative(xq)
    if condition == "gray":
        return quantize(grayscale(xq))
    if condition == "gray_negative":
        return negative(quantize(grayscale(xq)))
    raise ValueError(f"unknown condition {condition!r}")


def _sigma_name(s: float) -> str:
    return f"noise_s{int(s)}" if float(s).is_integer() else f"noise_s{s:g}".replace(".", "p")


def n_catch(n_sources: int, n_conditions: int, fraction: float) -> int:
    """Catch trials so that they make up `fraction` of one participant's trials.

    A participant sees each source once (one condition per source, Latin square), i.e. n_sources main trials,
    so catch = round(fraction * n_sources / (1 - fraction)) (e.g. 172 sources, 10% -> 19 catch trials).
    """
    del n_conditions  # every list holds each source once, whatever the number of conditions
    if fraction >= 1.0:
        raise ValueError("catch fraction must be below 1")
    return round(fraction * n_sources / (1.0 - fraction))


def _source_for(cfg: BuildConfig, n_total_per_class: int) -> ImageSource:
    if cfg.source == "synthetic":
        return get_source(
            "synthetic", split=cfg.split, size=cfg.size, n_per_class=n_total_per_class, seed=seeded(cfg)
        )
    return get_source(
        cfg.source,
        root=cfg.root,
        split=cfg.split,
        size=cfg.size,
        seed=seeded(cfg),
        roi_crop=cfg.roi_crop,
        download=cfg.download,
    )


def secret_seed() -> int:
    """A seed nobody can guess (63 random bits from the operating system)."""
    return secrets.randbits(63)


def seeded(cfg: BuildConfig) -> int:
    """The config's seed; ValueError for a config that has none yet (`build` draws one first)."""
    if cfg.seed is None:
        raise ValueError("this step needs a seed; build() draws a secret one when none is given")
    return int(cfg.seed)


def source_images(cfg: BuildConfig) -> ImageSource:
    """The source a build of `cfg` draws its stimuli from (synthetic: just enough images are rendered,
    stimuli plus catch trials; real data: everything in the split)."""
    catch_per_class = 0
    if cfg.source == "synthetic":
        n_classes = 43
        n_conditions = len(cfg.conditions) + len(cfg.sigmas)
        total_catch = n_catch(n_classes * cfg.n_per_class, n_conditions, cfg.catch_fraction)
        catch_per_class = math.ceil(total_catch / n_classes)
    return _source_for(cfg, cfg.n_per_class + catch_per_class)


def build(cfg: BuildConfig, out_dir: str | Path, *, progress: bool = True) -> Path:
    """Build and write the stimulus set described by cfg; returns the output directory."""
    _check(cfg)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"output directory {out} exists and is not empty")
    if cfg.seed is None:
        cfg = replace(cfg, seed=secret_seed())
    seed = seeded(cfg)
    rng = np.random.default_rng([seed, 0xB1D])
    n_conditions = len(cfg.conditions) + len(cfg.sigmas)
    src = source_images(cfg)
    present = set(np.unique(src.labels).tolist())
    classes = [c for c in src.classes if c.id in present]  # the closed set = classes the data actually has
    main_idx = stratified_indices(src.labels, cfg.n_per_class, rng)
    total_catch = n_catch(len(main_idx), n_conditions, cfg.catch_fraction)
    pool = np.setdiff1d(np.arange(len(src)), main_idx)
    if total_catch > pool.size:
        raise ValueError(
            f"{total_catch} catch trials requested but only {pool.size} unused source images remain"
        )
    catch_idx = _clear_catch(src, pool, total_catch, rng)
    # random like stimulus ids (64 bits): drawn in stratified order, a seeded id would encode the class
    picked = [*main_idx.tolist(), *catch_idx.tolist()]
    source_ids = dict(zip(picked, ("s" + h for h in new_ids(len(picked), nbytes=8)), strict=True))
    rows: list[dict] = []
    images: list[np.ndarray] = []
    noise_rng = np.random.default_rng([seed, 0x4015E])
    for i in tqdm(main_idx.tolist(), desc=f"building {cfg.preset}", unit="source", disable=not progress):
        xq = _prepared(src, i, cfg)
        label = int(src.labels[i])
        base = {"source_id": source_ids[i], "label": label, "family": cfg.family, "catch": False}
        for cond in cfg.conditions:
            rows.append({**base, "condition": cond, **({"sigma": 0} if cfg.sigmas else {})})
            images.append(condition_image(xq, cond))
        for s in cfg.sigmas:
            noisy, _ = gaussian_noise(xq, float(s), noise_rng)
            noisy = quantize(noisy)  # the PNG holds the quantised image, so its PSNR is the one recorded
            rows.append({**base, "condition": _sigma_name(s), "sigma": s, "psnr": psnr(xq, noisy)})
            images.append(noisy)
    for i in catch_idx.tolist():
        rows.append(
            {
                "source_id": source_ids[i],
                "label": int(src.labels[i]),
                "family": cfg.family,
                "condition": "regular",
                "catch": True,
            }
        )
        images.append(_prepared(src, i, cfg))
    legend = {c.id: _legend(src, c.id, cfg) for c in classes}
    practice = _practice(src, np.setdiff1d(pool, catch_idx), legend, cfg)
    params = {**cfg.params(), "source_index": {source_ids[i]: int(i) for i in sorted(source_ids)}}
    return write_stimulus_set(
        out,
        rows,
        images,
        classes,
        legend,
        name=f"{cfg.preset}-{cfg.source}",
        seed=seed,
        source=cfg.source,
        params=params,
        progress=progress,
        practice=practice,
    )


def _practice(
    src: ImageSource, pool: np.ndarray, legend: dict[int, np.ndarray], cfg: BuildConfig
) -> list[tuple[np.ndarray, int]]:
    """cfg.practice_per_class held-out images per class: from the images no stimulus uses (real data),
    or freshly rendered under another seed (synthetic), never equal to the class's legend image."""
    k = cfg.practice_per_class
    if k <= 0:
        return []
    seed = seeded(cfg)
    rng = np.random.default_rng([seed, 0x9AC7])  # its own stream: the stimuli stay as they were
    if cfg.source == "synthetic":
        src = get_source("synthetic", split=cfg.split, size=cfg.size, n_per_class=k + 1, seed=seed + 7919)
        pool = np.arange(len(src))
    out: list[tuple[np.ndarray, int]] = []
    for class_id in sorted(legend):
        candidates = pool[src.labels[pool] == class_id]
        picked = 0
        for i in rng.permutation(candidates).tolist():
            if picked == k:
                break
            img = _prepared(src, int(i), cfg)
            if img.shape == legend[class_id].shape and np.array_equal(img, legend[class_id]):
                continue
            out.append((img, class_id))
            picked += 1
    return out


def _clear_catch(src: ImageSource, pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k catch sources from the unused pool, preferring clear images: the sharpest and most contrasted
    of a random candidate sample three times larger (catch trials check attention, not perception)."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    cand = rng.choice(pool, size=min(pool.size, 3 * k), replace=False)
    scores = np.array([sharpness(img) * float(img.std()) for img in (src[int(i)][0] for i in cand)])
    return np.sort(cand[np.argsort(-scores, kind="stable")[:k]])


def _prepared(src: ImageSource, i: int, cfg: BuildConfig) -> np.ndarray:
    img = src[i][0]
    if img.shape[2] == 1 and any(c.startswith("gray") for c in cfg.conditions):
        img = np.repeat(img, 3, axis=2)
    if cfg.equalize:
        img = equalize_histogram(img)
    return quantize(img)


def _legend(src: ImageSource, class_id: int, cfg: BuildConfig) -> np.ndarray:
    if class_id in cfg.legend_index:
        i = cfg.legend_index[class_id]
        if not 0 <= i < len(src) or int(src.labels[i]) != class_id:
            raise ValueError(f"--legend-index {class_id}:{i} does not name an image of class {class_id}")
        img = src[i][0]
    else:
        img = src.legend_image(class_id)
    return quantize(equalize_histogram(img) if cfg.equalize else img)


def parse_legend_index(items: Sequence[str]) -> dict[int, int]:
    """'CLASS:INDEX' strings to {class: index}."""
    out = {}
    for it in items:
        try:
            c, i = it.split(":")
            out[int(c)] = int(i)
        except ValueError as exc:
            raise ValueError(f"--legend-index takes CLASS:INDEX (e.g. 14:203), got {it!r}") from exc
    return out
