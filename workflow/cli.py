"""`python -m workflow run|demo`: the whole study as one command (the functions are in workflow.study).

`run` builds what is missing (each step is cached under the work folder, so a second run starts the
server at once) and then serves the study until Ctrl-C. `demo` adds simulated participants in a
database of their own and writes the human-vs-network report, so a newcomer sees what the platform
makes before recruiting anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from commandline import OneLineGroup, UserError, run
from workflow.study import (
    DEFAULT_MIN_ACCURACY,
    DEFAULT_SLUG,
    DEFAULT_WORKDIR,
    Paths,
    StudyOptions,
    WorkflowError,
    prepare_study,
    regular_accuracy,
    require_trained_network,
    run_demo,
    serve,
    server_app,
)

__all__ = [
    "DEFAULT_MIN_ACCURACY",
    "Paths",
    "WorkflowError",
    "main",
    "regular_accuracy",
    "require_trained_network",
]


class WorkflowFailed(UserError):
    """A step could not go on: one line on stderr and exit code 1 (the main job's failure code)."""

    exit_code = 1


@click.group("workflow", cls=OneLineGroup)
def cli() -> None:
    """The whole study: stimuli, network, predictions, server, report."""


def _study_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--workdir", default=str(DEFAULT_WORKDIR), help="where every step keeps its output"),
        click.option(
            "--seed",
            type=int,
            default=0,
            help="seed for training and the simulated people (the stimulus set always gets a secret seed)",
        ),
        click.option("--n-per-class", type=int, default=None, help="source images per class (stimuli)"),
        click.option("--epochs", type=int, default=None, help="training epochs (default: model_eval's)"),
        click.option(
            "--train-minutes",
            type=float,
            default=None,
            help="stop training early after this wall time (resumable, not finished); default: none",
        ),
        click.option(
            "--min-accuracy",
            type=float,
            default=DEFAULT_MIN_ACCURACY,
            help="refuse to go on below this network accuracy on regular stimuli "
            f"(default {DEFAULT_MIN_ACCURACY})",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _options(workdir: str, **kwargs: Any) -> StudyOptions:
    return StudyOptions(workdir=Path(workdir), **kwargs)


def _failed(exc: Exception) -> WorkflowFailed:
    return WorkflowFailed(str(exc))


@cli.command("run")
@_study_options
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=5000, help="0 picks a free port")
@click.option("--database-url", default=None, help="default: SQLite file in the work folder")
@click.option("--no-serve", is_flag=True, help="prepare everything, then exit")
def run_command(
    workdir: str, host: str, port: int, database_url: str | None, no_serve: bool, **study: Any
) -> None:
    """Build stimuli, train, predict, import and serve the default study."""
    try:
        if not 0 <= port <= 65535:
            raise WorkflowError(f"--port must lie in 0..65535, got {port}")
        paths = prepare_study(_options(workdir, **study))
        click.echo("\n== study server")
        app, url = server_app(paths, database_url)
        if no_serve:
            click.echo(
                f"study '{DEFAULT_SLUG}' is ready in {url.split('://')[0]} database; not serving (--no-serve)"
            )
            return
        serve(app, paths, host=host, port=port)
    except (WorkflowError, ValueError, OSError) as exc:
        raise _failed(exc) from None


@cli.command("demo")
@_study_options
@click.option("--participants", type=int, default=24, help="simulated participants")
def demo_command(workdir: str, participants: int, **study: Any) -> None:
    """Simulate participants and write the human-vs-network report."""
    try:
        run_demo(_options(workdir, **study), participants)
    except (WorkflowError, ValueError, OSError) as exc:
        raise _failed(exc) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `python -m workflow` command line; the exit code (1: a step could not go on)."""
    return run(cli, argv, prog_name="python -m workflow")
