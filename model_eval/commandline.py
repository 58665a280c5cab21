"""What every ``python -m model_eval`` command shares: options that take several values, and errors.

argparse's ``nargs="+"`` (``--model a.pt b.pt``) has no click equivalent, so a :class:`Command` spreads
the values after a variadic option over repeated options (``--model a.pt --model b.pt``) before click
parses them; such an option is declared with ``multiple=True`` and listed in ``variadic``. Expected
failures become one line ``error: ...`` on stderr and exit code 2 (:func:`run_group`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

_NUMBER = re.compile(r"^-\d")  # a negative number is a value, not an option


def _print_help_and_exit(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help(), color=ctx.color)
        raise SystemExit(0)  # as argparse did: a caller of main(["cmd", "--help"]) sees the exit


class _ArgparseHelp:
    """``--help`` prints ``usage: ...`` and raises SystemExit(0), whether or not click runs standalone."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.callback = _print_help_and_exit
        return option

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="usage: ")


class Group(_ArgparseHelp, click.Group):
    """The ``python -m model_eval`` group."""


class Command(_ArgparseHelp, click.Command):
    """A click command whose ``variadic`` options take every value up to the next option."""

    def __init__(self, *args: Any, variadic: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variadic = set(variadic)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        spread: list[str] = []
        current: str | None = None
        for arg in args:
            is_option = arg.startswith("-") and not _NUMBER.match(arg)
            if is_option:
                flag, eq, value = arg.partition("=")
                current = flag if flag in self.variadic else None
                spread.append(arg)
                if current is not None and eq:
                    spread[-1] = flag
                    spread.append(value)
            elif current is not None and spread[-1] != current:
                spread += [current, arg]  # a further value: repeat the option
            else:
                spread.append(arg)
        return super().parse_args(ctx, spread)


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
    """Run one command line of ``group``; its exit code (2 and one line on stderr for a user error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = group.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return 2
    except click.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return 2
    except click.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, user_errors()):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return code if isinstance(code, int) else 0


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
