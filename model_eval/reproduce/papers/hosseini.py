"""Hosseini, Xiao, Jaiswal, Poovendran 2017, "On the Limitation of Convolutional Neural Networks in
Recognizing Negative Images" (ICMLA 2017) - "Hosseini 2017": every number it gives that this platform
reproduces, each with its table, figure or section.

The networks, the training protocol, the simulated observer and the ``reproduce hosseini`` report read
these constants; nothing else writes the paper's numbers again. Accuracies are in percent, as printed
in the paper. Where the paper is silent, the value is :data:`NOT_GIVEN` and the report shows ours.
"""

from __future__ import annotations

from typing import Any

NOT_GIVEN = "not given in the paper"

# Table I: 3x3 convolutions (a number = filters; "M" = 2x2 max-pool, "M4" = 4x4 max-pool), then FC 128
# and FC N with softmax. Depth counts weight layers (convolutions + 2 FC). Transcribed layer by layer
# from Table I: MVGG-5 has a single 48-filter convolution after the first pool and no 32-filter
# block; MVGG-6 adds conv 32 before it; MVGG-7..9 grow block by block; MVGG-9 ends with conv 64 and a
# 4x4 max-pool.
HOSSEINI_MVGG: dict[str, Any] = {
    "where": "Hosseini 2017, Table I",
    "fc": 128,
    "layers": {
        "mvgg5": (16, 16, "M", 48, "M"),
        "mvgg6": (16, 16, "M", 32, 48, "M"),
        "mvgg7": (16, 16, "M", 32, 32, "M", 48, "M"),
        "mvgg8": (16, 16, "M", 32, 32, "M", 48, 48, "M"),
        "mvgg9": (16, 16, "M", 32, 32, "M", 48, 48, "M", 64, "M4"),
    },
}

# Protocol (Section IV-A): GTSRB resized to 32x32, 20% of each class's training images held out for
# validation; CIFAR-10 holds out 5,000 training images; MNIST is 50,000 / 10,000 / 10,000. A random
# classifier on GTSRB's imbalanced test set scores 3.76% (footnote 1; ours: sum of p_k^2).
HOSSEINI_VAL_FRACTION = 0.2
HOSSEINI_GTSRB_CHANCE = 0.0376
HOSSEINI_TRAINING: dict[str, Any] = {
    "where": "Hosseini 2017, Section IV",
    "optimizer": NOT_GIVEN,
    "epochs": NOT_GIVEN,  # Figure 3 plots accuracy per epoch, without a stated stopping rule
    "batch_size": NOT_GIVEN,
    "augmentation (LeNet-5 row)": "translations and reflections",  # magnitudes not given
}

# Table II: test accuracy (%) of networks trained on regular images, on regular and negative test images.
# "dataset" names the paper's data set; "variant" marks the augmented LeNet-5 run (Section IV-C, "Effect
# of data augmentation": translations and reflections). MVGG-8 on GTSRB-gray is trained and tested on
# gray images (its "negative" is the negative of the gray image).
HOSSEINI_TABLE_II: list[dict[str, Any]] = [
    {"network": "lenet5", "dataset": "MNIST", "variant": "", "regular": 99.21, "negative": 34.65},
    {
        "network": "lenet5",
        "dataset": "MNIST",
        "variant": "augmented",
        "regular": 99.25,
        "negative": 12.38,
    },
    {"network": "mvgg5", "dataset": "CIFAR-10", "variant": "", "regular": 78.24, "negative": 38.55},
    {"network": "mvgg6", "dataset": "CIFAR-10", "variant": "", "regular": 80.86, "negative": 41.66},
    {"network": "mvgg7", "dataset": "CIFAR-10", "variant": "", "regular": 82.78, "negative": 45.51},
    {"network": "mvgg8", "dataset": "CIFAR-10", "variant": "", "regular": 83.17, "negative": 46.16},
    {"network": "mvgg9", "dataset": "CIFAR-10", "variant": "", "regular": 84.01, "negative": 47.88},
    {"network": "mvgg8", "dataset": "GTSRB-color", "variant": "", "regular": 98.54, "negative": 12.66},
    {"network": "mvgg8", "dataset": "GTSRB-gray", "variant": "", "regular": 98.12, "negative": 12.29},
]
TABLE_II_WHERE = "Hosseini 2017, Table II"

# Humans (Table II; Section IV-D): 10 people, GTSRB test images in color and gray, regular and negative,
# one representative image per class shown, closed world (map each image to a class), unaware that
# negatives were included, untimed. Accuracy in %.
HOSSEINI_HUMANS: dict[str, Any] = {
    "where": "Hosseini 2017, Table II and Section IV-D",
    "participants": 10,
    "GTSRB-color": {"regular": 98.48, "negative": 97.31},
    "GTSRB-gray": {"regular": 98.00, "negative": 96.41},
}

# Figures the report redraws with our numbers (the paper gives them as plots only, no values):
HOSSEINI_FIGURES: dict[str, str] = {
    "confusion": "Hosseini 2017, Fig. 2: LeNet-5 confusion on regular and negative MNIST test digits",
    "epochs": "Hosseini 2017, Fig. 3: validation regular, test regular and test negative accuracy per epoch",
    "finetune": "Hosseini 2017, Fig. 4: fine-tuning on N negatives vs training on them from scratch",
}


def human_rate(condition: str) -> float:
    """The paper's human accuracy (0-1) for a stimulus condition (regular, negative, gray,
    gray_negative): gray conditions take the GTSRB-gray rates, the rest the GTSRB-color ones."""
    data = "GTSRB-gray" if condition.startswith("gray") else "GTSRB-color"
    kind = "negative" if condition.endswith("negative") else "regular"
    return float(HOSSEINI_HUMANS[data][kind]) / 100
