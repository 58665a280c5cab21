"""`python -m analysis.compare`: the human-vs-model report from responses, predictions and a stimulus set."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis import fooling
from analysis.exclusions import ExclusionRules, apply_exclusions
from analysis.load import (
    AnalysisInputError,
    build_long_table,
    load_predictions,
    load_responses,
    load_stimulus_info,
)
from analysis.report import Options, build_report, text_summary, write_outputs


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
    g = p.add_argument_group("exclusions (each is reported with its counts)")
    g.add_argument(
        "--catch-min-accuracy",
        type=float,
        default=1.0,
        help="exclude participants below this catch-trial accuracy (default 1.0)",
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
    p.add_argument("--bootstrap", type=int, default=500, help="bootstrap resamples for error consistency")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.add_argument(
        "--power-difference",
        type=float,
        default=0.05,
        help="human-model accuracy difference the power analysis targets (default 0.05)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("catch_min_accuracy", "min_regular_accuracy", "power_difference"):
        v = getattr(args, name)
        if v is not None and not 0 <= v <= 1:
            print(f"error: --{name.replace('_', '-')} must be between 0 and 1, got {v}", file=sys.stderr)
            return 2
    rules = ExclusionRules(
        catch_min_accuracy=None if args.no_catch_exclusion else args.catch_min_accuracy,
        drop_incomplete=not args.keep_incomplete,
        rt_min_ms=None if args.no_rt_exclusion else args.rt_min,
        rt_max_ms=None if args.no_rt_exclusion else args.rt_max,
        min_regular_accuracy=args.min_regular_accuracy,
    )
    try:
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
        kept, exclusions = apply_exclusions(table.trials, rules)
        report = build_report(
            table,
            kept,
            exclusions,
            Options(
                n_boot=args.bootstrap,
                seed=args.seed,
                power_difference=args.power_difference,
                predictions=predictions,
            ),
        )
        fooled = fooling.fooling_analysis(kept, responses, info)  # fooling sets only (Nguyen et al. 2015)
        if fooled is not None:
            fooling.add_to_report(report, fooled, info)
        path = write_outputs(report, Path(args.out), args.format)
    except AnalysisInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report to {args.out}: {exc}", file=sys.stderr)
        return 2
    print(text_summary(report))
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
