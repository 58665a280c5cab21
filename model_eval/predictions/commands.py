"""``python -m model_eval predict``: parse the options, call :func:`model_eval.predictions.predict`, print."""

from __future__ import annotations

from pathlib import Path

import click

from model_eval.commandline import command


@command(
    "predict",
    variadic=("--model", "--name"),
    short_help="predict every stimulus of a set with one or more checkpoints",
    help="Write predictions.csv (model, stimulus_id, response, confidence, prob_true, top1..top5), "
    "its .networks.json sidecar, and print accuracy per model x condition.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="checkpoint file(s)",
)
@click.option("--stimuli", required=True, type=click.Path(path_type=Path), help="stimulus set directory")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="predictions CSV to write")
@click.option("--name", "names", multiple=True, help="model names (one per checkpoint)")
@click.option("--batch-size", type=int, default=256)
@click.option("--device", default=None)
@click.option("--no-progress", is_flag=True)
def predict_command(
    models: tuple[Path, ...],
    stimuli: Path,
    out: Path,
    names: tuple[str, ...],
    batch_size: int,
    device: str | None,
    no_progress: bool,
) -> int:
    from model_eval.predictions import predict

    result = predict(
        list(models),
        stimuli,
        out=out,
        names=list(names) or None,
        batch_size=batch_size,
        device=device,
        progress=not no_progress,
    )
    if result.csv is None:  # a torchrun rank other than 0
        return 0
    print(f"accuracy per model x condition ({stimuli}):")
    print(result.accuracy.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {out} ({len(result.predictions)} rows)")
    return 0
