"""`python -m study_server.recruiters mturk|prolific CMD` (also `flask --app study_server mturk CMD`).

The root command group: each recruiter's commands live with it (mturk.commands, prolific.commands).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click
from flask import Flask

from study_server.cli import CommandGroup, invoke, with_new_app
from study_server.recruiters.mturk.commands import mturk_group
from study_server.recruiters.prolific.commands import prolific_group


@click.group("study_server.recruiters", cls=CommandGroup)
def cli() -> None:
    """Recruit, review and pay on MTurk and Prolific."""


cli.add_command(mturk_group)
cli.add_command(prolific_group)


def run(
    app: Flask, argv: Sequence[str] | None, *, confirm: Callable[[str], str] = input, out: Any = None
) -> int:
    """Run one command line inside `app`; user errors become one line on stderr and exit code 2."""
    return invoke(cli, app, argv, prog_name="python -m study_server.recruiters", confirm=confirm, out=out)


def main(argv: Sequence[str] | None = None) -> int:
    return with_new_app(lambda app: run(app, argv))


def register_cli(app: Flask) -> None:
    """`flask --app study_server mturk|prolific ...` runs the same commands."""
    for name, group in cli.commands.items():
        app.cli.add_command(group, name)
