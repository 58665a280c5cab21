"""``python -m model_eval models``: the registered architectures."""

from __future__ import annotations

from model_eval.commandline import Command, command


def model_lines() -> list[str]:
    """One line per registered architecture, saying which need a local weights file."""
    from model_eval.nets import get_entry, list_models

    note = " (weights from a local file: --weights PATH)"
    return [f"{name}{note if get_entry(name).needs_weights_file else ''}" for name in list_models()]


@command("models", help="List registered architectures.", short_help="list registered architectures")
def models() -> None:
    for line in model_lines():
        print(line)


__all__ = ["Command", "models"]
