"""Nguyen, Yosinski, Clune 2015, "Deep Neural Networks are Easily Fooled" (extended abstract): its
headline numbers, each with where it comes from. Confidences in percent."""

from __future__ import annotations

from typing import Any

NGUYEN_2015: dict[str, Any] = {
    "where": "Nguyen 2015, abstract and Figures 1-3",
    "target_confidence": 99.99,  # abstract and Fig. 1: LeNet (MNIST) fooled "with 99.99% confidence"
    "imagenet_min_confidence": 99.6,  # Fig. 2: ImageNet DNNs, ">= 99.6% certainty"
    "imagenet_mean_confidence": 99.12,  # Fig. 3: mean DNN confidence of the evolved ImageNet images
    "networks": ("LeNet (MNIST)", "AlexNet (ImageNet)"),
    "encodings": ("direct", "indirect (CPPN)", "gradient ascent"),
}
