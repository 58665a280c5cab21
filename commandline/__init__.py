"""commandline: the one way every command of the project is written (click), and how it fails.

Every package's command line is a `click.Group`; `python -m <package>` calls `run(group, argv)`, and
tests call the package's `main(argv)`, which is `run` too. A command parses its options, calls the typed
Python function that does the work, and lets the errors a user causes surface as `UserError`: one
line `error: ...` on stderr and exit code 2, never a traceback. `--help` and a usage mistake behave as
click makes them (exit 0, and a usage message with exit 2).

This package imports nothing from the others, so each of them may use it without crossing a contract.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

import click

__all__ = ["OneLineErrors", "OneLineGroup", "UserError", "run"]


class UserError(click.ClickException):
    """A user error: one line `error: ...` on stderr and exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineErrors(click.Command):
    """A command that turns the exceptions `user_errors()` names into a UserError.

    `user_errors` is a callable, so a command line that only prints `--help` imports nothing heavy
    (torch, SQLAlchemy) to learn which exception types its work may raise.
    """

    def __init__(
        self, *args: Any, user_errors: Callable[[], tuple[type[Exception], ...]] = tuple, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user_errors = user_errors

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if isinstance(exc, self.user_errors()):
                raise UserError(str(exc)) from None
            raise


class OneLineGroup(click.Group):
    """A group whose commands are OneLineErrors commands with the group's `user_errors`."""

    def __init__(
        self, *args: Any, user_errors: Callable[[], tuple[type[Exception], ...]] = tuple, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user_errors = user_errors

    # click types command() as overloads (bare decorator or with arguments); this override takes the
    # argument form only, which is how every command of the project is declared.
    def command(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command]:
        kwargs.setdefault("cls", OneLineErrors)
        kwargs.setdefault("user_errors", self.user_errors)
        return super().command(*args, **kwargs)


def run(group: click.Command, argv: Sequence[str] | None, *, prog_name: str, **extra: Any) -> int:
    """Run one command line of `group`; the exit code (0 ok, 1 a failed check, 2 a user error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = group.main(args=args, prog_name=prog_name, standalone_mode=True, **extra)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return rv if isinstance(rv, int) else 0
