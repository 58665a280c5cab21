"""Issue 10: ids and row order tell nothing, even to someone who holds the code and guesses the seed.

A participant reads stimulus ids in image URLs. With seeded ids drawn in row order (source x condition, catch
trials last), the public code and seed 0 gave away the condition, catch status and class of every trial.
"""

from __future__ import annotations

import random
from fractions import Fraction
from itertools import pairwise
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stimuli import load_stimulus_set, validate_stimulus_set
from stimuli.builder import build, preset_config

SEED = 0  # the default seed, the one the participant used
GUESSED_SEEDS = range(1001)


def _tiny(out: Path) -> Path:
    """43 sources x (regular, negative, noise_s8) + 43 catch trials = 172 rows of 16 px (~0.2 s)."""
    cfg = preset_config(
        "negative",
        conditions=("regular", "negative"),
        sigmas=(8,),
        n_per_class=1,
        catch_fraction=0.5,  # as many catch trials as sources, so the order checks below have power
        size=16,
        seed=SEED,
    )
    return build(cfg, out, progress=False)


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two builds with the same seed."""
    root = tmp_path_factory.mktemp("twins")
    return _tiny(root / "a"), _tiny(root / "b")


# ---- (2) one seed, the same images, no shared id --------------------------------------------------------


def _rows_by_source(root: Path) -> tuple[object, dict[tuple[int, str], object]]:
    """Manifest rows keyed by (index of the source image in its data set, condition)."""
    ss = load_stimulus_set(root)
    index = ss.meta["params"]["source_index"]
    rows = {(index[r.source_id], r.condition): r for r in ss.manifest.itertuples()}
    assert len(rows) == len(ss.manifest)
    return ss, rows


def assert_same_images(a: Path, b: Path) -> None:
    """Two builds with one seed: the same pixels and fields per (source, condition), but no shared id."""
    ssa, ra = _rows_by_source(a)
    ssb, rb = _rows_by_source(b)
    assert ra.keys() == rb.keys()
    for key, x in ra.items():
        y = rb[key]
        for col in ("label", "family", "catch", "sigma", "psnr"):
            vx, vy = getattr(x, col), getattr(y, col)
            assert vx == vy or (pd.isna(vx) and pd.isna(vy)), (key, col)
        np.testing.assert_array_equal(ssa.image(x.stimulus_id), ssb.image(y.stimulus_id), err_msg=str(key))
    ma, mb = ssa.manifest, ssb.manifest
    assert set(ma.stimulus_id).isdisjoint(mb.stimulus_id)
    assert set(ma.source_id).isdisjoint(mb.source_id)
    assert ssa.meta["content_hash"] != ssb.meta["content_hash"]  # intended: the ids and the order differ


def test_same_seed_same_images_no_shared_ids(twins: tuple[Path, Path]):
    a, b = twins
    assert validate_stimulus_set(a) == [] and validate_stimulus_set(b) == []
    assert_same_images(a, b)  # noise included: the seed still decides every pixel


# ---- (1) no guessed seed predicts an id -------------------------------------------------------------------


def _guessed_streams(nbytes: int):
    """Byte streams a reader of the public code might try, for each guessed seed."""
    for seed in GUESSED_SEEDS:
        yield np.random.default_rng([seed, 0x5EED1D]).bytes(nbytes)  # the old make_ids(n, seed)
        yield np.random.default_rng([seed + 7919, 0x5EED1D]).bytes(nbytes)  # the old source ids
        yield np.random.default_rng([seed, 0xB1D]).bytes(nbytes)  # the builder's own generators
        yield np.random.default_rng([seed, 0x4015E]).bytes(nbytes)
        yield np.random.default_rng(seed).bytes(nbytes)
        yield np.random.RandomState(seed).bytes(nbytes)
        yield random.Random(seed).randbytes(nbytes)
        r = random.Random(seed)  # f"{getrandbits(128):032x}"
        yield b"".join(r.getrandbits(128).to_bytes(16, "big") for _ in range(nbytes // 16))


def _predicted(ours: set[bytes], nbytes: int) -> set[bytes]:
    """The 8-byte pieces of `ours` that occur 8-byte aligned in some guessed stream."""
    hits: set[bytes] = set()
    for stream in _guessed_streams(nbytes):
        hits |= ours & {stream[i : i + 8] for i in range(0, nbytes, 8)}
    return hits


def test_no_guessed_seed_predicts_an_id(twins: tuple[Path, Path]):
    m = load_stimulus_set(twins[0]).manifest
    # every 64-bit half of a stimulus id (32 hex) and every source id ("s" + 16 hex)
    ours = {bytes.fromhex(s[k : k + 16]) for s in m.stimulus_id for k in (0, 16)}
    ours |= {bytes.fromhex(s[1:]) for s in set(m.source_id)}
    assert all(len(s) == 32 for s in m.stimulus_id) and all(len(s) == 17 for s in m.source_id)
    nbytes = 16 * len(m)  # enough for one 128-bit id per row from any stream
    # the check has power: a seeded id of the old kind or any listed generator would be found
    planted = {np.random.default_rng([SEED, 0x5EED1D]).bytes(8), np.random.RandomState(7).bytes(24)[16:]}
    assert _predicted(planted, nbytes) == planted
    # 8008 streams x 344 pieces vs our 430 pieces of 8 bytes: 1.2e9 / 2**64 < 1e-10 chance of a false hit
    assert _predicted(ours, nbytes) == set()


# ---- (3) position tells no condition, catch status or class -----------------------------------------------


def _runs(seq: list[bool]) -> int:
    return 1 + sum(x != y for x, y in pairwise(seq))


def _runs_band(n1: int, n2: int, alpha: Fraction) -> tuple[int, int]:
    """[lo, hi] holding the number of runs R of n1 True and n2 False in uniformly random order, except with
    probability <= alpha (at most alpha/2 per tail). Exact distribution (Wald & Wolfowitz 1940):
    P(R=2k) = 2 C(n1-1,k-1) C(n2-1,k-1) / C(n,n1); P(R=2k+1) = [C(n1-1,k) C(n2-1,k-1) + C(n1-1,k-1)
    C(n2-1,k)] / C(n,n1)."""
    counts = {}
    for r in range(2, n1 + n2 + 1):
        k = r // 2
        if r % 2 == 0:
            counts[r] = 2 * comb(n1 - 1, k - 1) * comb(n2 - 1, k - 1)
        else:
            counts[r] = comb(n1 - 1, k) * comb(n2 - 1, k - 1) + comb(n1 - 1, k - 1) * comb(n2 - 1, k)
    total = comb(n1 + n2, n1)
    assert sum(counts.values()) == total
    lo, tail = 2, 0
    while Fraction(tail + counts[lo], total) <= alpha / 2:
        tail += counts[lo]
        lo += 1
    hi, tail = n1 + n2, 0
    while Fraction(tail + counts[hi], total) <= alpha / 2:
        tail += counts[hi]
        hi -= 1
    return lo, hi


def test_runs_band_matches_hand_values():
    # n1 = n2 = 2: R in {2, 3, 4} with probabilities 2/6, 2/6, 2/6 (orders AABB BBAA | ABBA BAAB | ABAB BABA)
    assert _runs_band(2, 2, Fraction(1, 2)) == (2, 4)
    assert _runs_band(2, 2, Fraction(2, 3)) == (3, 3)


def test_row_and_id_order_tell_nothing(twins: tuple[Path, Path]):
    ss = load_stimulus_set(twins[0])
    m = ss.manifest
    main = m[~m["catch"]]
    assert main.condition.tolist() != sorted(main.condition)  # not blocked by condition
    assert not m["catch"].iloc[-int(m["catch"].sum()) :].all()  # catch trials are not the last rows
    # the order the old builder wrote: sources in index order x conditions, then catch trials
    rank = {"regular": 0, "negative": 1, "noise_s8": 2}
    old = m.assign(src=m.source_id.map(ss.meta["params"]["source_index"]), cond=m.condition.map(rank))
    old_order = old.sort_values(["catch", "src", "cond"]).index
    # Rows are in uniformly random order, and ids are independent of it, so each binary sequence below has
    # the exact runs distribution in manifest order and in sorted-id order. Six checks at alpha = 1.5e-10:
    # a correct build fails with probability < 1e-9 (union bound).
    alpha = Fraction(15, 10**11)
    pure = main[main.condition.isin(["regular", "negative"])]
    sequences = {
        "regular vs negative": pure.condition == "regular",
        "catch vs main": m["catch"],
        "class 0-20 vs 21-42": m.label <= 20,
    }
    for name, flags in sequences.items():
        n1 = int(flags.sum())
        lo, hi = _runs_band(n1, len(flags) - n1, alpha)
        old_runs = _runs(flags.loc[[k for k in old_order if k in flags.index]].tolist())
        assert not lo <= old_runs <= hi, (name, old_runs, (lo, hi))  # the check has power
        by_id = flags.to_numpy()[np.argsort(m.stimulus_id.loc[flags.index].to_numpy())]
        for order, seq in (("manifest", flags.tolist()), ("sorted ids", by_id.tolist())):
            assert lo <= _runs(seq) <= hi, (name, order, _runs(seq), (lo, hi))
