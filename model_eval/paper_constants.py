"""Every number taken from a seed paper, in one place, each with where it comes from.

The networks, the training protocol and the ``reproduce`` reports read these constants; nothing else
in model_eval writes a paper's number again. A value of ``None`` is a number the paper reports that
has not been transcribed here (the report then shows "n/a" instead of inventing one).

Papers:
- Hosseini, Xiao, Jaiswal, Poovendran 2017, "On the Limitation of Convolutional Neural Networks in
  Recognizing Negative Images" (ICMLA 2017; arXiv:1703.06857v2) - "Hosseini 2017".
- Hosseini & Poovendran 2017, "Deep Neural Networks Do Not Recognize Negative Images" (arXiv:1703.06857v1,
  the short paper) - its "DNN".
- Aghdam, Heravi, Puig 2016, "Analyzing the Stability of Convolutional Neural Networks Against Image
  Degradation" (VISAPP 2016) - "Aghdam 2016".
"""

from __future__ import annotations

from typing import Any

from stimuli.builder import AGHDAM_SIGMAS as _STIMULI_AGHDAM_SIGMAS

# --- Hosseini 2017 -------------------------------------------------------------------------------------

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


# --- Aghdam 2016 ---------------------------------------------------------------------------------------

# Gaussian noise sigma on the 0-255 scale (experiments). The one definition lives in stimuli (which builds the
# noise stimulus sets and cannot import model_eval); this is the name model_eval uses.
AGHDAM_SIGMAS: tuple[float, ...] = tuple(float(s) for s in _STIMULI_AGHDAM_SIGMAS)

# Minimum-noise search (method section): genetic algorithm, tournament selection of size 5, three crossover
# operators (arithmetic, intermediate, uniform), mutation adding a uniform number in [-10, 10] on the
# 0-255 scale to some genes, elitism. Fitness psi: beta * L[c] while the noisy image is still classified
# as c, L[k] - L[c] once it is classified as k != c, on softmax scores L, plus lambda * ||r||_2.
AGHDAM_GA: dict[str, Any] = {
    "where": "Aghdam 2016, method (genetic search)",
    "tournament": 5,
    "mutation_range_255": 10.0,
    "crossovers": ("arithmetic", "intermediate", "uniform"),
}

# Accuracy against sigma (their Fig./Table of the stability analysis on GTSRB): not transcribed yet.
AGHDAM_ACCURACY_BY_SIGMA: dict[float, float | None] = {s: None for s in AGHDAM_SIGMAS}
AGHDAM_ACCURACY_WHERE = "Aghdam 2016, experiments (accuracy vs sigma / PSNR)"
