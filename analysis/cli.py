"""Command line: `python -m analysis compare ...` and `python -m analysis.compare ...` run the same command.

The command parses options and calls analysis.report.write_report with typed arguments; a bad input
prints one line on stderr and exits 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from analysis.inputs.load import AnalysisInputError
from analysis.report import CompareOptions, ReportResult, write_report
from analysis.sections import Options
from analysis.stats.consistency import BOOT_UNITS, CEILING_POLICIES, KappaOptions
from analysis.stats.exclusions import CatchRule
from analysis.stats.replicates import parse_runs_argument

MANY_VALUED = ("--predictions", "--checkpoint")
"""Options that take several values after one flag (`--predictions a.csv b.csv`), as the README shows."""


class UserError(click.ClickException):
    """Bad input: one line `error: ...` on stderr and exit code 2, never a traceback."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def spread_many_valued(argv: Sequence[str]) -> list[str]:
    """`--predictions a b` -> `--predictions a --predictions b` (click options take one value per flag)."""
    out: list[str] = []
    current: str | None = None
    for arg in argv:
        if arg.startswith("-"):
            current = arg if arg in MANY_VALUED else None
            if current is None:
                out.append(arg)
            continue
        if current is not None:
            out += [current, arg]
        else:
            out.append(arg)
    return out


@click.group("analysis")
def cli() -> None:
    """Compare people with networks: statistics, figures and the report."""


@cli.command("compare")
@click.option("--responses", required=True, help="responses CSV export, or a database URL (read-only)")
@click.option("--study", default=None, help="only this study's responses")
@click.option(
    "--predictions",
    multiple=True,
    metavar="CSV",
    help="predictions CSVs (several after one flag)",
)
@click.option("--stimuli", required=True, help="stimulus set directory (manifest.csv, stimulus_set.json)")
@click.option("--out", required=True, help="output directory")
@click.option("--format", "format_", type=click.Choice(["html", "md"]), default="html", show_default=True)
@click.option("--no-pdf", is_flag=True, help="skip report.pdf (written beside the report by default)")
@click.option(
    "--checkpoint",
    multiple=True,
    metavar="PT",
    help="network checkpoint files to list with their SHA-256 in the provenance (never loaded; each "
    "network's training record comes from the sidecar beside its predictions, X.networks.json)",
)
@click.option(
    "--runs",
    multiple=True,
    metavar="NAME=a,b,c",
    help="these prediction models are training runs of one network NAME (repeatable); names ending in "
    "-seedN, -runN, -mN ... are grouped automatically",
)
@click.option(
    "--catch-max-failures",
    type=int,
    default=None,
    help="exclude participants with more than N failed catch trials (default: the study's own screening "
    "setting from the export, else the study server's default of 1)",
)
@click.option(
    "--catch-min-accuracy", type=float, default=None, help="instead: exclude participants below this accuracy"
)
@click.option("--no-catch-exclusion", is_flag=True, help="keep participants who fail catch trials")
@click.option("--keep-incomplete", is_flag=True, help="keep participants who did not finish")
@click.option("--rt-min", type=float, default=200.0, help="drop trials faster than this (ms; default 200)")
@click.option(
    "--rt-max", type=float, default=30000.0, help="drop trials slower than this (ms, default 30000)"
)
@click.option("--no-rt-exclusion", is_flag=True, help="keep all trials whatever their RT")
@click.option(
    "--min-regular-accuracy",
    type=float,
    default=None,
    help="exclude participants below this accuracy on regular images (off by default)",
)
@click.option(
    "--allow-mixed-simulated",
    is_flag=True,
    help="analyse simulated and real participants together (refused otherwise)",
)
@click.option(
    "--kappa-ceiling",
    type=click.Choice(CEILING_POLICIES),
    default="one",
    help="pairs both all-correct (or all-wrong): 'one' = kappa 1, the published convention (default); "
    "'exclude' = leave them out",
)
@click.option(
    "--kappa-ci",
    type=click.Choice(BOOT_UNITS),
    default="participants",
    help="bootstrap unit of the kappa intervals (default participants; items = stimuli within condition)",
)
@click.option("--bootstrap", type=int, default=500, help="bootstrap resamples for error consistency")
@click.option("--seed", type=int, default=0, help="seed of the bootstraps")
@click.option(
    "--power-difference",
    type=float,
    default=0.05,
    help="human-model accuracy difference the power analysis targets (default 0.05)",
)
@click.pass_context
def compare(ctx: click.Context, **o: Any) -> ReportResult:
    """The human-vs-model report from responses, predictions and a stimulus set."""
    if o["catch_max_failures"] is not None and o["catch_max_failures"] < 0:
        raise UserError("--catch-max-failures must be 0 or more")
    if o["no_catch_exclusion"]:
        catch: CatchRule | None = CatchRule(None, "switched off on the command line")
    elif o["catch_min_accuracy"] is not None:
        catch = CatchRule(None, "command line", min_accuracy=o["catch_min_accuracy"])
    elif o["catch_max_failures"] is not None:
        catch = CatchRule(o["catch_max_failures"], "command line")
    else:
        catch = None
    no_rt = o["no_rt_exclusion"]
    try:
        runs = parse_runs_argument(list(o["runs"]))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        options = CompareOptions(
            study=o["study"],
            catch=catch,
            keep_incomplete=o["keep_incomplete"],
            rt_min_ms=None if no_rt else o["rt_min"],
            rt_max_ms=None if no_rt else o["rt_max"],
            min_regular_accuracy=o["min_regular_accuracy"],
            runs=runs,
            allow_mixed_simulated=o["allow_mixed_simulated"],
            statistics=Options(
                n_boot=o["bootstrap"],
                seed=o["seed"],
                power_difference=o["power_difference"],
                kappa=KappaOptions(
                    ceiling=o["kappa_ceiling"], unit=o["kappa_ci"], n_boot=o["bootstrap"], seed=o["seed"]
                ),
            ),
            format=o["format_"],
            pdf=not o["no_pdf"],
        )
        result = write_report(
            o["responses"],
            o["stimuli"],
            o["out"],
            o["predictions"],
            checkpoints=o["checkpoint"],
            options=options,
            command=ctx.obj,
        )
    except AnalysisInputError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write the report to {o['out']}: {exc}") from None
    click.echo(result.headline())
    click.echo(f"report: {result.report}" + (f" (and {result.pdf})" if result.pdf else ""))
    return result


def _run(command: click.Command, args: list[str], prog_name: str, recorded: list[str]) -> int:
    """Run a command line; the exit code. Usage errors and --help exit as a parser does (SystemExit)."""
    try:
        rv = command.main(args=args, prog_name=prog_name, standalone_mode=False, obj=recorded)
    except UserError as exc:
        exc.show()
        return exc.exit_code
    except click.UsageError as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        raise SystemExit(2) from None
    except click.Abort:
        raise SystemExit(1) from None
    if isinstance(rv, int):  # click returns --help's exit code instead of a result
        raise SystemExit(rv)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m analysis CMD`: the exit code."""
    args = spread_many_valued(sys.argv[1:] if argv is None else argv)
    return _run(cli, args, "python -m analysis", args[1:])


def compare_main(argv: Sequence[str] | None = None) -> int:
    """`python -m analysis.compare`: the compare command on its own; the exit code."""
    args = spread_many_valued(sys.argv[1:] if argv is None else argv)
    return _run(compare, args, "python -m analysis.compare", args)
