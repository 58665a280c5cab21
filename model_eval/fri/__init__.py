"""Fragile recognition images (Srivastava et al. 2019): crop maps, loose and strict FRIs, pair export.

- :func:`fri_maps` maps a checkpoint's regions over source images and optionally exports the FRI pairs
  as a stimulus set (returns a :class:`FriRun`); :func:`pair_selection` chooses which pairs.
- :mod:`.maps` cuts, resizes and classifies every crop in batches on the device (:func:`classify_crops`,
  :func:`fri_for_side`); :mod:`.pairs` selects the pairs and writes maps and figures.
"""

from model_eval.fri.api import FriRun, fri_maps, pair_selection
from model_eval.fri.maps import FRI_KINDS, FriResult, classify_crops, extract_crops, fri_for_side
from model_eval.fri.pairs import PAIR_CONDITIONS, PairSelection, run_fri, select_pairs

__all__ = [
    "FRI_KINDS",
    "PAIR_CONDITIONS",
    "FriResult",
    "FriRun",
    "PairSelection",
    "classify_crops",
    "extract_crops",
    "fri_for_side",
    "fri_maps",
    "pair_selection",
    "run_fri",
    "select_pairs",
]
