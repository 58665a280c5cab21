"""Model registry: ``@register_model()``, ``get_model(name, ...)``, ``list_models()``.

An entry carries its own preprocessing (input size, mean, std), so a checkpoint can record exactly
how images were prepared, as torchvision's weights entries do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


class UnknownModelError(KeyError):
    """Raised for a model name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Preprocessing:
    """How an image in [0, 1] is prepared for a network: resize to ``input_size``, optionally equalise
    its histogram (the short paper's GTSRB-gray input), then normalise."""

    input_size: int = 32
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    equalize: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "equalize": self.equalize,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessing:
        return cls(
            int(d["input_size"]),
            tuple(float(v) for v in d["mean"]),
            tuple(float(v) for v in d["std"]),
            bool(d.get("equalize", False)),
        )


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    needs_weights_file: bool = False


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str | None = None, *, preprocessing: Preprocessing | None = None, needs_weights_file: bool = False
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that registers a builder under ``name`` (default: the function's name)."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is already registered")
        _REGISTRY[key] = ModelEntry(key, fn, preprocessing or Preprocessing(), needs_weights_file)
        return fn

    return wrap


def _ensure_loaded() -> None:
    # Importing the modules runs their decorators.
    from model_eval.nets import architectures, pretrained  # noqa: F401


def list_models() -> list[str]:
    """Names of all registered architectures, sorted."""
    _ensure_loaded()
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}"
        ) from None


def get_model(name: str, *, num_classes: int, in_channels: int = 3, **kwargs: Any) -> nn.Module:
    """Build the named architecture with freshly initialised (or file-loaded) weights."""
    entry = get_entry(name)
    return entry.builder(num_classes=num_classes, in_channels=in_channels, **kwargs)
