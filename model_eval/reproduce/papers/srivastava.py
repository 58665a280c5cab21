"""Srivastava, Ben-Yosef and Boix 2019 (ICLR, "Minimal images in deep neural networks: fragile object
recognition in natural images"): the constants of its human study.

From the section on the human study, as quoted in issue 18: 40 DNN shrink FRIs drawn at random; each
FRI and its partner crop shown to separate groups of 20 Mechanical Turk workers; answers among 10
supercategories (ImageNet). The study server's default of 20 viewers per crop is the same figure.
"""

from __future__ import annotations

from typing import Any

SRIVASTAVA_2019: dict[str, Any] = {
    "sample": 40,  # "randomly sample 40 DNN shrink FRIs"
    "kind": "shrink",
    "viewers_per_crop": 20,
    "supercategories": 10,
}
PRESETS = {"srivastava": SRIVASTAVA_2019}
