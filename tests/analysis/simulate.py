"""A small study with known effects, for the end-to-end tests of `python -m analysis.compare`.

Ground truth (what the tests must recover):
- humans: regular 0.95, negative 0.80 (a within-participant drop), noise follows a logistic in PSNR
  from chance (1/5) to 0.95 with its halfway point at 16 dB;
- model "netA": regular 0.95, negative 0.15 (the Hosseini et al. collapse), noise threshold 24 dB;
- participant "p_catchfail" fails the catch trials, "p_short" is incomplete, a few trials have RT 50 ms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

import stimuli

N_CLASSES = 5
N_SOURCES_PER_CLASS = 8
NOISE = {"noise_s10": (10, 28.0), "noise_s20": (20, 22.0), "noise_s40": (40, 16.0), "noise_s80": (80, 10.0)}
HUMAN_P = {"regular": 0.95, "negative": 0.80}
MODEL_P = {"regular": 0.95, "negative": 0.15}
HUMAN_THRESHOLD, MODEL_THRESHOLD = 16.0, 24.0


def noise_p(psnr: float, threshold: float, top: float = 0.95) -> float:
    chance = 1 / N_CLASSES
    return chance + (top - chance) * float(special.expit((psnr - threshold) / 2.0))


def build_set(out: Path, seed: int = 0) -> Path:
    """Write the stimulus set with the stimuli package (the real contract writer)."""
    rng = np.random.default_rng(seed)
    rows, images = [], []
    names = {c.id: c.name for c in stimuli.get_source("synthetic", n_per_class=1).classes}
    classes = [stimuli.ClassInfo(i, names[i]) for i in range(N_CLASSES)]

    def add(**row):
        base = {
            "sigma": "",
            "psnr": "",
            "pair_id": "",
            "fri_kind": "",
            "region_size": "",
            "x": "",
            "y": "",
            "side": "",
            "model": "",
            "catch": False,
        }
        rows.append(base | row)
        images.append(rng.random((8, 8, 3), dtype=np.float32))

    for label in range(N_CLASSES):
        for k in range(N_SOURCES_PER_CLASS):
            src = f"s{label}_{k}"
            common = {"source_id": src, "label": label, "label_name": names[label]}
            add(**common, family="regular", condition="regular")
            add(**common, family="negative", condition="negative")
            cond = list(NOISE)[k % 4]
            sigma, psnr = NOISE[cond]
            add(**common, family="noise", condition=cond, sigma=sigma, psnr=psnr + rng.normal(0, 0.3))
            if k < 2:
                pair = f"pair{label}_{k}"
                fri_common = common | {
                    "source_id": pair,  # a pair's own source, as model_eval's export gives it
                    "family": "fri",
                    "pair_id": pair,
                    "fri_kind": "shift",
                    "region_size": 6,
                    "x": 1,
                    "y": 1,
                    "side": 6,
                    "model": "netA",
                }
                add(**fri_common, condition="fri")
                add(**fri_common, condition="fri_partner")
    for label in range(3):
        add(
            source_id=f"catch{label}",
            label=label,
            label_name=names[label],
            family="regular",
            condition="regular",
            catch=True,
        )
    legend = {c.id: rng.random((8, 8, 3), dtype=np.float32) for c in classes}
    return stimuli.write_stimulus_set(
        out,
        rows,
        images,
        classes,
        legend,
        name="sim-test",
        seed=seed,
        source="synthetic",
        params={"test": True},
        progress=False,
    )


def _answer(rng: np.random.Generator, label: int, p: float) -> int:
    return label if rng.random() < p else (label + 1 + int(rng.random() < 0.2)) % N_CLASSES


def simulate_responses(manifest: pd.DataFrame, n_participants: int = 12, seed: int = 1) -> pd.DataFrame:
    # manifest rows come in a random order (stimuli shuffles them); fix one so the draws are seeded
    manifest = manifest.sort_values(["source_id", "condition"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = []
    names = [f"p{i:02d}" for i in range(n_participants)] + ["p_catchfail", "p_short"]
    for i, who in enumerate(names):
        group = i % 2  # FRI: even participants see the FRI crop, odd ones its partner
        shown = manifest[
            ~manifest["condition"].isin(["fri", "fri_partner"])
            | (manifest["condition"] == ("fri" if group == 0 else "fri_partner"))
        ]
        shown = shown.sample(frac=1.0, random_state=int(rng.integers(1 << 30)))
        if who == "p_short":
            shown = shown.iloc[: len(shown) // 2]
        for t, r in enumerate(shown.itertuples()):
            if r.catch:
                p = 0.0 if who == "p_catchfail" else 1.0
            elif r.family == "noise":
                p = noise_p(r.psnr, HUMAN_THRESHOLD)
            elif r.family == "fri":
                p = 0.9 if r.condition == "fri" else 0.7
            else:
                p = HUMAN_P[r.condition]
            resp = _answer(rng, r.label, p)
            rt = float(rng.uniform(600, 2500))
            if t == 5 and i < 3:
                rt = 50.0  # too fast to be a real decision
            rows.append(
                {
                    "participant": who,
                    "stimulus_id": r.stimulus_id,
                    "response": resp,
                    "rt_ms": rt,
                    "trial_index": t,
                    "catch": r.catch,
                    "created_at": "2026-01-01T00:00:00Z",
                    "status": "started" if who == "p_short" else "completed",
                    "completed": who != "p_short",
                    "recruiter": "link",
                    "list_id": "L1",
                    "study": "sim",
                    "simulated": True,
                }
            )
    return pd.DataFrame(rows)


def simulate_predictions(manifest: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    # manifest rows come in a random order (stimuli shuffles them); fix one so the draws are seeded
    manifest = manifest.sort_values(["source_id", "condition"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = []
    for r in manifest.itertuples():
        if r.family == "noise":
            p = noise_p(r.psnr, MODEL_THRESHOLD)
        elif r.family == "fri":
            p = 1.0 if r.condition == "fri" else 0.0  # the fri crop is the one the network gets right
        else:
            p = MODEL_P[r.condition]
        resp = _answer(rng, r.label, p)
        conf = float(rng.uniform(0.6, 0.99))
        prob_true = conf if resp == r.label else float(rng.uniform(0.0, 0.3))
        top = [resp] + [c for c in range(N_CLASSES) if c != resp]
        rows.append(
            {
                "model": "netA",
                "stimulus_id": r.stimulus_id,
                "response": resp,
                "confidence": conf,
                "prob_true": prob_true,
                **{f"top{k + 1}": top[k] for k in range(5)},
            }
        )
    return pd.DataFrame(rows)


def simulate_by_condition(
    manifest: pd.DataFrame,
    p_correct: dict[str, float],
    n_classes: int,
    n_participants: int = 8,
    seed: int = 5,
) -> pd.DataFrame:
    """Every participant sees every stimulus; P(correct) depends only on the condition."""
    # manifest rows come in a random order (stimuli shuffles them); fix one so the draws are seeded
    manifest = manifest.sort_values(["source_id", "condition"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_participants):
        for t, r in enumerate(manifest.sample(frac=1.0, random_state=i).itertuples()):
            p = 1.0 if r.catch else p_correct[r.condition]
            resp = r.label if rng.random() < p else (r.label + 1) % n_classes
            rows.append(
                {
                    "participant": f"p{i}",
                    "stimulus_id": r.stimulus_id,
                    "response": resp,
                    "rt_ms": float(rng.uniform(500, 3000)),
                    "trial_index": t,
                    "catch": r.catch,
                    "created_at": "2026-01-01T00:00:00Z",
                    "status": "completed",
                    "recruiter": "link",
                    "list_id": "L1",
                    "study": "sim",
                    "simulated": True,
                }
            )
    return pd.DataFrame(rows)
