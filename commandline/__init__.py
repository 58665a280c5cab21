"""commandline: the one way every command of the project is written (click), and how it fails.

Every package's command line is a click group of `OneLineGroup`; `python -m <package>` and the tests
call the package's `main(argv)`, which is `run(group, argv)`. A command parses its options and calls the
typed Python function that does the work. The exceptions a user causes (a missing file, a bad value),
named by the group's `user_errors`, surface as one line `error: ...` on stderr and exit code 2, never a
traceback; a usage mistake is click's usage message and exit 2; `--help` exits 0; Ctrl-C exits 130.

Options that take several values (`--model a.pt b.pt`) are declared `multiple=True` and listed in the
command's `variadic`: the values after such an option are spread over repeated options before click
parses them.

This package imports nothing from the others, so each of them may use it without crossing a contract.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

import click

__all__ = ["OneLineErrors", "OneLineGroup", "UserError", "run"]

ErrorTypes = Callable[[], tuple[type[Exception], ...]]
_NUMBER = re.compile(r"^-\d")  # a negative number is a value, not an option


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
        self, *args: Any, user_errors: ErrorTypes = tuple, variadic: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user_errors = user_errors
        self.variadic = set(variadic)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not self.variadic:
            return super().parse_args(ctx, args)
        spread: list[str] = []
        current: str | None = None
        for arg in args:
            if arg.startswith("-") and not _NUMBER.match(arg):
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

    def __init__(self, *args: Any, user_errors: ErrorTypes = tuple, **kwargs: Any) -> None:
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
    """Run one command line of `group`; the exit code (0 ok, 1 a failed check, 2 a user error).

    A command's own exit code (a check that failed, a budget that ran out) is its return value or
    `SystemExit(code)`.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = group.main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code if isinstance(code, int) else 0
