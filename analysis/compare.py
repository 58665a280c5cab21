"""`python -m analysis.compare`: the human-vs-model report from responses, predictions and a stimulus set."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.inputs.load import (
    AnalysisInputError,
    build_long_table,
    is_database_url,
    load_predictions,
    load_responses,
    load_stimulus_info,
    redact_url,
)
from analysis.inputs.provenance import collect_provenance
from analysis.report import build_report, text_summary, write_outputs
from analysis.sections import Context, Options
from analysis.stats.consistency import BOOT_UNITS, CEILING_POLICIES, KappaOptions
from analysis.stats.exclusions import CatchRule, ExclusionRules, apply_exclusions, study_catch_rule
from analysis.stats.replicates import group_runs, parse_runs_argument

if TYPE_CHECKING:
    import pandas as pd


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis.compare", description=__doc__)
    p.add_argument(
        "--responses",
        required=True,
        help="responses CSV export, or a database URL (read-only, via study_server.export)",
    )
    p.add_argument("--study", default=None, help="only this study's responses")
    p.add_argument("--predictions", nargs="*", default=[], metavar="CSV", help="one or more predictions CSVs")
    p.add_argument(
        "--stimuli", required=True, help="stimulus set directory (manifest.csv, stimulus_set.json)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--format", choices=("html", "md"), default="html")
    p.add_argument(
        "--no-pdf", action="store_true", help="skip report.pdf (written beside the report by default)"
    )
    p.add_argument(
        "--checkpoint",
        nargs="*",
        default=[],
        metavar="PT",
        help="model_eval checkpoints of the models, for the provenance block (training summary, validation)",
    )
    p.add_argument(
        "--runs",
        action="append",
        default=[],
        metavar="NAME=a,b,c",
        help="these prediction models are training runs of one network NAME (repeatable); names ending in "
        "-seedN, -runN, -mN ... are grouped automatically",
    )
    g = p.add_argument_group("exclusions (each is reported with its counts)")
    g.add_argument(
        "--catch-max-failures",
        type=int,
        default=None,
        help="exclude participants with more than N failed catch trials (default: the study's own screening "
        "setting from the export, else the study server's default of 1)",
    )
    g.add_argument(
        "--catch-min-accuracy",
        type=float,
        default=None,
        help="instead: exclude participants below this catch-trial accuracy",
    )
    g.add_argument(
        "--no-catch-exclusion", action="store_true", help="keep participants who fail catch trials"
    )
    g.add_argument("--keep-incomplete", action="store_true", help="keep participants who did not finish")
    g.add_argument(
        "--rt-min", type=float, default=200.0, help="drop trials faster than this (ms; default 200)"
    )
    g.add_argument(
        "--rt-max", type=float, default=30000.0, help="drop trials slower than this (ms; default 30000)"
    )
    g.add_argument("--no-rt-exclusion", action="store_true", help="keep all trials whatever their RT")
    g.add_argument(
        "--min-regular-accuracy",
        type=float,
        default=None,
        help="exclude participants below this accuracy on regular images (off by default)",
    )
    p.add_argument(
        "--allow-mixed-simulated",
        action="store_true",
        help="analyse simulated and real participants together (refused otherwise)",
    )
    k = p.add_argument_group("error consistency")
    k.add_argument(
        "--kappa-ceiling",
        choices=CEILING_POLICIES,
        default="one",
        help="pairs both all-correct (or all-wrong): 'one' = kappa 1, the published convention (default); "
        "'exclude' = leave them out",
    )
    k.add_argument(
        "--kappa-ci",
        choices=BOOT_UNITS,
        default="participants",
        help="bootstrap unit of the kappa intervals (default participants; items = stimuli within condition)",
    )
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples for error consistency")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstraps")
    p.add_argument(
        "--power-difference",
        type=float,
        default=0.05,
        help="human-model accuracy difference the power analysis targets (default 0.05)",
    )
    return p


def _catch_rule(args: argparse.Namespace, responses: pd.DataFrame) -> CatchRule:
    if args.no_catch_exclusion:
        return CatchRule(None, "switched off on the command line")
    if args.catch_min_accuracy is not None:
        return CatchRule(None, "command line", min_accuracy=args.catch_min_accuracy)
    if args.catch_max_failures is not None:
        return CatchRule(args.catch_max_failures, "command line")
    return study_catch_rule(responses)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    for name in ("catch_min_accuracy", "min_regular_accuracy", "power_difference"):
        v = getattr(args, name)
        if v is not None and not 0 <= v <= 1:
            print(f"error: --{name.replace('_', '-')} must be between 0 and 1, got {v}", file=sys.stderr)
            return 2
    if args.catch_max_failures is not None and args.catch_max_failures < 0:
        print("error: --catch-max-failures must be 0 or more", file=sys.stderr)
        return 2
    try:
        explicit_runs = parse_runs_argument(args.runs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        missing = [c for c in args.checkpoint if not Path(c).is_file()]
        if missing:
            raise AnalysisInputError(f"checkpoint file not found: {missing[0]}")
        info = load_stimulus_info(args.stimuli)
        responses = load_responses(args.responses, study=args.study)
        predictions = load_predictions(args.predictions)
        table = build_long_table(
            responses, predictions, info, allow_mixed_simulated=args.allow_mixed_simulated
        )
        if table.trials.empty:
            raise AnalysisInputError(
                "no trials left after matching responses and predictions to the manifest"
            )
        rules = ExclusionRules(
            catch=_catch_rule(args, responses),
            drop_incomplete=not args.keep_incomplete,
            rt_min_ms=None if args.no_rt_exclusion else args.rt_min,
            rt_max_ms=None if args.no_rt_exclusion else args.rt_max,
            min_regular_accuracy=args.min_regular_accuracy,
        )
        exclusions = apply_exclusions(table.trials, rules)
        models = sorted(table.trials.loc[table.trials["agent_type"] == "model", "agent"].unique())
        unknown = [r for runs in explicit_runs.values() for r in runs if r not in models]
        if unknown:
            raise AnalysisInputError(f"--runs names model {unknown[0]!r}, which no predictions file has")
        inputs = [("stimulus set", args.stimuli)]
        source = redact_url(args.responses) if is_database_url(args.responses) else args.responses
        inputs.append(("responses", source))
        inputs += [("predictions", p) for p in args.predictions]
        provenance = collect_provenance(
            Path(args.stimuli), inputs, [Path(c) for c in args.checkpoint], [redact_url(a) for a in argv]
        )
        options = Options(
            n_boot=args.bootstrap,
            seed=args.seed,
            power_difference=args.power_difference,
            kappa=KappaOptions(
                ceiling=args.kappa_ceiling, unit=args.kappa_ci, n_boot=args.bootstrap, seed=args.seed
            ),
        )
        ctx = Context(
            table,
            exclusions,
            options,
            group_runs(models, explicit_runs),
            provenance,
            predictions=predictions,
            responses=responses,
        )
        doc, _ = build_report(ctx)
        path = write_outputs(doc, Path(args.out), args.format, pdf=not args.no_pdf)
    except AnalysisInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report to {args.out}: {exc}", file=sys.stderr)
        return 2
    print(text_summary(doc))
    print(f"report: {path}" + ("" if args.no_pdf else f" (and {path.with_suffix('.pdf')})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
