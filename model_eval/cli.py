"""``python -m model_eval``: models, train, predict, fri, noise, min-noise, fool, reproduce.

One click group; each command lives with its experiment (``model_eval/<subpackage>/commands.py``),
parses its options and calls that subpackage's typed function. :func:`main` runs a command line and
returns the exit code: 2 with one line on stderr for a user error, 3 when a training budget ran out.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from model_eval.commandline import Group, run_group
from model_eval.fooling.commands import fool_command
from model_eval.fri.commands import fri_command
from model_eval.nets.commands import models
from model_eval.noise.commands import min_noise_command, noise_command
from model_eval.predictions.commands import predict_command
from model_eval.reproduce.commands import reproduce_command
from model_eval.training.commands import train_command


@click.group("model_eval", cls=Group)
def cli() -> None:
    """Evaluate networks on the platform's stimuli: train, predict, FRI maps, noise, fooling, papers."""


for _command in (
    models,
    train_command,
    predict_command,
    fri_command,
    noise_command,
    min_noise_command,
    fool_command,
    reproduce_command,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    from model_eval.runtime import distributed

    try:
        return run_group(cli, argv, prog_name="python -m model_eval")
    finally:
        distributed.shutdown()
