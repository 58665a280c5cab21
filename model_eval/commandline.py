"""What every ``python -m model_eval`` command shares: options that take several values, and errors.

argparse's ``nargs="+"`` (``--model a.pt b.pt``) has no click equivalent, so a :class:`Command` spreads
the values after a variadic option over repeated options (``--model a.pt --model b.pt``) before click
parses them (``commandline.OneLineErrors``); such an option is declared with ``multiple=True`` and
listed in ``variadic``. Expected failures (:func:`user_errors`) become one line ``error: ...`` on stderr
and exit code 2, as in every package's commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

import commandline


class Group(commandline.OneLineGroup):
    """The ``python -m model_eval`` group: its commands' user errors are :func:`user_errors`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("user_errors", user_errors)
        super().__init__(*args, **kwargs)


class Command(commandline.OneLineErrors):
    """A ``python -m model_eval`` command (variadic options, one-line user errors)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("user_errors", user_errors)
        super().__init__(*args, **kwargs)


def command(name: str, *, variadic: Sequence[str] = (), **kwargs: Any) -> Callable[..., Command]:
    """``@command("train", help=...)``: a :class:`Command` (click's ``command`` with variadic options)."""

    def wrap(f: Callable[..., Any]) -> Command:
        cmd = click.command(name, cls=Command, variadic=variadic, **kwargs)(f)
        assert isinstance(cmd, Command)
        return cmd

    return wrap


def user_errors() -> tuple[type[Exception], ...]:
    """The failures a user's input or setup causes (imported when needed, so ``--help`` stays fast)."""
    import stimuli
    from model_eval.nets import CheckpointError, UnknownModelError, WeightsFileError
    from model_eval.predictions import StimulusSetInvalid

    return (
        UnknownModelError,
        CheckpointError,
        StimulusSetInvalid,
        WeightsFileError,
        stimuli.DataSourceError,
        stimuli.StimulusSetError,
        ValueError,
        FileNotFoundError,
    )


def run_group(group: click.Group, argv: Sequence[str] | None, *, prog_name: str) -> int:
    """Run one command line of ``group``; its exit code (see :func:`commandline.run`)."""
    return commandline.run(group, argv, prog_name=prog_name)


def image_options(
    *, n_default: int, size_default: int | None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of the commands that analyse a checkpoint on source images (fri, noise, min-noise)."""
    from pathlib import Path

    options = [
        click.option("--model", required=True, type=click.Path(path_type=Path), help="checkpoint file"),
        click.option("--source", default="synthetic"),
        click.option("--root", default=None),
        click.option("--split", default="test"),
        click.option("--n-images", type=int, default=n_default, help="images analysed (spread over classes)"),
        click.option(
            "--image-size",
            type=int,
            default=size_default,
            help="side of the analysed images (default: the network input size)",
        ),
        click.option("--seed", type=int, default=0),
        click.option("--device", default=None),
        click.option("--no-progress", is_flag=True),
    ]

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            f = option(f)
        return f

    return wrap
