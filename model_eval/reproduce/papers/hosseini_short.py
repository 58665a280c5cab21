"""Hosseini & Poovendran 2017, "Deep Neural Networks Do Not Recognize Negative Images" (the short
paper): its DNN, its protocol and its Table I, each with where it comes from. Accuracies in percent."""

from __future__ import annotations

from typing import Any

from model_eval.reproduce.papers.hosseini import NOT_GIVEN

# Section III: two 3x3 convolutions with 32 and 64 filters, a max-pool, two FC layers of 200 ReLUs, softmax.
# The same network for MNIST and GTSRB; GTSRB is resized to 28x28 gray and histogram-equalised.
HOSSEINI_DNN: dict[str, Any] = {
    "where": "Hosseini & Poovendran 2017, Section III",
    "convs": (32, 64),
    "fc": (200, 200),
    "input_size": 28,
    "gray": True,
    "equalize": True,
    "pool": NOT_GIVEN,  # "followed by a max-pooling layer": ours is 2x2
}

# Protocol (Section III): MNIST is 50,000 / 10,000 / 10,000; GTSRB's training set is shuffled and its
# first 5,000 images validate. Accuracy is measured on the test images and on the negatives of the
# *training* images. Random classifiers: 10% (MNIST) and about 2.33% (GTSRB, 1/43).
HOSSEINI_SHORT_PROTOCOL: dict[str, Any] = {
    "where": "Hosseini & Poovendran 2017, Section III",
    "gtsrb_validation_images": 5000,
    "negatives_of": "training images",
    "chance": {"MNIST": 10.0, "GTSRB": 2.33},
    "optimizer": NOT_GIVEN,
    "epochs": NOT_GIVEN,
    "fgsm_steps": NOT_GIVEN,  # "trained on both the regular and adversarially modified images" [16]
}

# Table I: (test accuracy, accuracy on negatives of the training images) per data set, for the DNN and
# the robust DNN trained with adversarial examples of maximum change eps per pixel ([0, 1] scale).
HOSSEINI_SHORT_TABLE_I: list[dict[str, Any]] = [
    {"network": "DNN", "eps": 0.0, "MNIST": (99.20, 6.68), "GTSRB": (95.63, 4.39)},
    {"network": "Robust DNN", "eps": 0.05, "MNIST": (99.34, 6.72), "GTSRB": (98.08, 7.07)},
    {"network": "Robust DNN", "eps": 0.1, "MNIST": (98.30, 3.89), "GTSRB": (97.39, 8.44)},
    {"network": "Robust DNN", "eps": 0.2, "MNIST": (98.77, 6.24), "GTSRB": (94.55, 11.12)},
    {"network": "Robust DNN", "eps": 0.5, "MNIST": (98.74, 16.69), "GTSRB": (94.80, 13.54)},
]
TABLE_I_WHERE = "Hosseini & Poovendran 2017, Table I"
