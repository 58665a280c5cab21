"""Hosseini et al. 2017 (negative images) and the short paper: every number, each with where it comes from.

The networks, the training protocol and the ``reproduce`` reports read these constants; nothing else
in model_eval writes the paper's number again. A value of ``None`` is a number the paper reports that
has not been transcribed here (the report then shows "n/a" instead of inventing one).

Papers:
- Hosseini, Xiao, Jaiswal, Poovendran 2017, "On the Limitation of Convolutional Neural Networks in
  Recognizing Negative Images" (ICMLA 2017; arXiv:1703.06857v2) - "Hosseini 2017".
- Hosseini & Poovendran 2017, "Deep Neural Networks Do Not Recognize Negative Images" (arXiv:1703.06857v1,
  the short paper) - its "DNN".
"""

from __future__ import annotations

from typing import Any

# Table I: 3x3 convolutions (a number = filters; "M" = 2x2 max-pool, "M4" = 4x4 max-pool), then FC 128
# and FC N with softmax. Depth counts weight layers (convolutions + 2 FC). MVGG-8 and MVGG-9 are as
# issue 11 reads them from Table I (MVGG-9 = MVGG-8 + conv 64 + 4x4 max-pool); MVGG-5..7 drop the
# second convolution of the last, then the middle, then the first block, following the table's
# one-layer-per-depth progression.
HOSSEINI_MVGG: dict[str, Any] = {
    "where": "Hosseini 2017, Table I",
    "fc": 128,
    "layers": {
        "mvgg5": (16, "M", 32, "M", 48, "M"),
        "mvgg6": (16, 16, "M", 32, "M", 48, "M"),
        "mvgg7": (16, 16, "M", 32, 32, "M", 48, "M"),
        "mvgg8": (16, 16, "M", 32, 32, "M", 48, 48, "M"),
        "mvgg9": (16, 16, "M", 32, 32, "M", 48, 48, "M", 64, "M4"),
    },
}

# The short paper's DNN: conv 3x3x32, conv 3x3x64, max-pool 2x2, FC 200, FC 200, softmax; input 28x28
# gray with histogram equalisation (GTSRB-gray).
HOSSEINI_DNN: dict[str, Any] = {
    "where": "Hosseini & Poovendran 2017 (short paper), network description",
    "convs": (32, 64),
    "fc": (200, 200),
    "input_size": 28,
    "gray": True,
    "equalize": True,
}

# Protocol: 20% of the training images of each class held out for validation; chance level accounting
# for class imbalance (sum over classes of p_k^2, which is 3.760% on the GTSRB test set's class counts).
HOSSEINI_VAL_FRACTION = 0.2
HOSSEINI_GTSRB_CHANCE = 0.0376

# Table II: test accuracy (%) of networks trained on regular images, tested on regular, negative,
# gray and gray-negative images. Per-network numbers are not transcribed in this repository yet
# (None: shown as n/a); the summary row is the abstract's "about 98.5% -> about 12.5%" on GTSRB
# (also quoted in docs/DESIGN).
HOSSEINI_TABLE_II: list[dict[str, Any]] = [
    {
        "network": "lenet5",
        "dataset": "MNIST",
        "regular": None,
        "negative": None,
        "gray": None,
        "gray_negative": None,
        "where": "Hosseini 2017, Table II",
    },
    *(
        {
            "network": f"mvgg{d}",
            "dataset": "GTSRB",
            "regular": None,
            "negative": None,
            "gray": None,
            "gray_negative": None,
            "where": "Hosseini 2017, Table II",
        }
        for d in range(5, 10)
    ),
    {
        "network": "all MVGG (summary)",
        "dataset": "GTSRB",
        "regular": 98.5,
        "negative": 12.5,
        "gray": None,
        "gray_negative": None,
        "where": "Hosseini 2017, abstract and results (about 98.5% vs about 12.5%)",
    },
]

# Humans on the same images (the reference human study): regular vs negative accuracy (%).
HOSSEINI_HUMANS = {"regular": 98.5, "negative": 97.3, "where": "Hosseini 2017, human study (results)"}
