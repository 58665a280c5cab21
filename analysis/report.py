"""The report as a Python function: read the inputs, apply the exclusions, run the sections, write files.

write_report is what `python -m analysis.compare` runs, with typed arguments. Inside it, build_report
walks analysis.sections.SECTIONS (each section computes its typed result and presents it as document
blocks) and write_outputs writes report.html (or report.md), report.pdf beside it, every table as
tables/<name>.csv, every figure as figures/<name>.svg and a 300-dpi .png, and summary.json.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

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
from analysis.render.document import Document, Paragraph, Table, Warning
from analysis.render.formatting import fmt, safe_name
from analysis.render.html import render_html
from analysis.render.markdown import render_md
from analysis.render.pdf import PdfError, find_chromium, print_pdf
from analysis.render.style import figure_bytes
from analysis.sections import SECTIONS, Context, Options, heading
from analysis.sections.consistency import KAPPA_COLUMNS
from analysis.stats.exclusions import CatchRule, ExclusionRules, apply_exclusions, study_catch_rule
from analysis.stats.replicates import group_runs
from analysis.stats.timing import TimingRule

__all__ = [
    "CompareOptions",
    "Options",
    "ReportResult",
    "build_report",
    "text_summary",
    "write_outputs",
    "write_report",
]


@dataclass(frozen=True)
class CompareOptions:
    """How to compare: which responses, which exclusion rules, which statistics; defaults are the CLI's.

    ``catch`` None applies the study's own screening rule (read from the export); pass
    ``CatchRule(None, "switched off")`` to keep everyone, or ``CatchRule(2, "my rule")`` for another.
    ``timing`` flags timed trials whose frames shown missed those requested (TimingRule(apply=True)
    excludes them). ``runs`` names the training runs of one network
    (``{"mvgg8": ["mvgg8-a", "mvgg8-b"]}``); names ending in -seedN, -runN, -mN are grouped without it.
    """

    study: str | None = None
    catch: CatchRule | None = None
    keep_incomplete: bool = False
    rt_min_ms: float | None = 200.0
    rt_max_ms: float | None = 30000.0
    min_regular_accuracy: float | None = None
    timing: TimingRule = field(default_factory=TimingRule)
    runs: Mapping[str, Sequence[str]] = field(default_factory=dict)
    allow_mixed_simulated: bool = False
    statistics: Options = field(default_factory=Options)
    format: Literal["html", "md"] = "html"
    pdf: bool = True

    def __post_init__(self) -> None:
        fractions = {
            "min_regular_accuracy": self.min_regular_accuracy,
            "catch min_accuracy": self.catch.min_accuracy if self.catch else None,
            "power_difference": self.statistics.power_difference,
        }
        for name, v in fractions.items():
            if v is not None and not 0 <= v <= 1:
                raise AnalysisInputError(f"{name} must be between 0 and 1, got {v}")
        if self.catch is not None and self.catch.max_failures is not None and self.catch.max_failures < 0:
            raise AnalysisInputError("catch max_failures must be 0 or more")
        if self.format not in ("html", "md"):
            raise AnalysisInputError(f"format must be 'html' or 'md', got {self.format!r}")


@dataclass(frozen=True)
class ReportResult:
    """What write_report wrote: the report's path, its tables and figures, and its headline numbers."""

    report: Path
    pdf: Path | None  # None when not asked for or when it could not be printed (see notes)
    tables: dict[str, pd.DataFrame]
    figures: dict[str, Path]  # name -> the SVG file (a 300-dpi PNG lies beside it)
    summary: dict[str, Any]  # the headline numbers of summary.json
    document: Document
    notes: list[str] = field(default_factory=list)  # e.g. why the PDF was skipped

    @property
    def out_dir(self) -> Path:
        return self.report.parent

    def headline(self) -> str:
        """A few lines for a terminal: participants, exclusions and the headline numbers."""
        return text_summary(self.document)


def write_report(
    responses: str | Path,
    stimuli: str | Path,
    out: str | Path,
    predictions: Sequence[str | Path] = (),
    *,
    checkpoints: Sequence[str | Path] = (),
    options: CompareOptions | None = None,
    command: Sequence[str] = (),
) -> ReportResult:
    """Compare people with networks on one stimulus set and write the report into ``out``.

    responses: a CSV export or a database URL (read-only, through the study server's export);
    predictions: model_eval's predictions CSVs (each network's training record is read from the
    sidecar beside each, X.networks.json); checkpoints: network files to list with their SHA-256 in
    the provenance (never loaded). ``command`` is the command line to record (the CLI's argv).
    Raises AnalysisInputError for bad input before anything is written; OSError if ``out`` is not
    writable.
    """
    o = options or CompareOptions()
    missing = [c for c in checkpoints if not Path(c).is_file()]
    if missing:
        raise AnalysisInputError(f"checkpoint file not found: {missing[0]}")
    info = load_stimulus_info(stimuli)
    answers = load_responses(responses, study=o.study)
    preds = load_predictions(list(predictions))
    table = build_long_table(answers, preds, info, allow_mixed_simulated=o.allow_mixed_simulated)
    if table.trials.empty:
        raise AnalysisInputError("no trials left after matching responses and predictions to the manifest")
    rules = ExclusionRules(
        catch=o.catch if o.catch is not None else study_catch_rule(answers),
        drop_incomplete=not o.keep_incomplete,
        rt_min_ms=o.rt_min_ms,
        rt_max_ms=o.rt_max_ms,
        min_regular_accuracy=o.min_regular_accuracy,
        timing=o.timing,
    )
    exclusions = apply_exclusions(table.trials, rules)
    models = sorted(table.trials.loc[table.trials["agent_type"] == "model", "agent"].unique())
    runs = {name: list(members) for name, members in o.runs.items()}
    unknown = [r for members in runs.values() for r in members if r not in models]
    if unknown:
        raise AnalysisInputError(f"--runs names model {unknown[0]!r}, which no predictions file has")
    source = redact_url(str(responses)) if is_database_url(str(responses)) else str(responses)
    inputs = [("stimulus set", str(stimuli)), ("responses", source)]
    inputs += [("predictions", str(p)) for p in predictions]
    inputs += [("checkpoint", str(c)) for c in checkpoints]
    provenance = collect_provenance(Path(stimuli), inputs, [redact_url(a) for a in command])
    ctx = Context(
        table,
        exclusions,
        o.statistics,
        group_runs(models, runs),
        provenance,
        predictions=preds,
        responses=answers,
    )
    doc, _ = build_report(ctx)
    chromium = find_chromium() if o.pdf else None
    notes = []
    if o.pdf and chromium is None:
        notes.append(PDF_SKIPPED)
        doc.blocks.insert(0, Paragraph(PDF_SKIPPED))
        doc.scalars["pdf"] = PDF_SKIPPED
    out_dir = Path(out)
    path, pdf = write_outputs(doc, out_dir, o.format, chromium=chromium)
    if chromium is not None and pdf is None:
        notes.append(str(doc.scalars["pdf"]))
    return ReportResult(
        report=path,
        pdf=pdf,
        tables=doc.tables,
        figures={b.name: out_dir / "figures" / f"{safe_name(b.name)}.svg" for b in doc.figures},
        summary=dict(doc.scalars),
        document=doc,
        notes=notes,
    )


PDF_SKIPPED = (
    "PDF skipped: no Chromium to print it with (set STUDY_CHROMIUM or install chromium); "
    "the HTML report is complete."
)


def build_report(ctx: Context) -> tuple[Document, dict[str, Any]]:
    """Run every registered section in order; returns the document and the typed results by key."""
    info = ctx.table.stimuli
    title = f"Humans vs models: {info.name or info.root.name}"
    if ctx.table.simulated:
        title = "SIMULATED DATA — " + title
    doc = Document(title=title)
    if ctx.table.simulated:
        doc.blocks.append(
            Warning(
                "SIMULATED DATA: these responses were generated by a simulator, not by people. "
                "Nothing here is evidence about human perception."
            )
        )
    results: dict[str, Any] = {}
    for section in SECTIONS:
        result = section.compute(ctx, results)
        results[section.key] = result
        doc.blocks.append(heading(section))
        blocks = section.present(result, ctx)
        doc.blocks.extend(
            replace(b, frame=ctx.in_set_order(b.frame)) if isinstance(b, Table) else b for b in blocks
        )
    data = results["data"]
    ex = ctx.exclusions
    doc.scalars.update(
        {
            "simulated": ctx.table.simulated,
            "stimulus_set": info.name,
            "n_classes": info.n_classes,
            "chance": ctx.chance,
            "n_participants_raw": data.n_participants_raw,
            "n_participants_analysed": data.n_participants_analysed,
            "models": data.models,
            "model_groups": ctx.groups,
            "catch_rule": ex.catch_rule.describe(),
            "catch_rule_max_failures": ex.catch_rule.max_failures,
            "n_removed_by_catch_rule": int((ex.participants["excluded_by"] == "failed catch trials").sum()),
            "n_human_trials_analysed": int(((ctx.kept["agent_type"] == "human") & ~ctx.kept["catch"]).sum()),
            "kappa_ceiling": ctx.options.kappa.ceiling,
            "kappa_ci_unit": ctx.options.kappa.unit,
            "issues": data.issues,
        }
    )
    cons = results.get("consistency")
    if cons is not None and len(cons.pairs):
        pairs = cons.pairs.rename(columns=KAPPA_COLUMNS)
        doc.extra_tables["error_consistency_pairs"] = ctx.in_set_order(pairs)
    conf = results.get("confusions")
    if conf is not None:
        agents = list(dict.fromkeys(agent for agent, _ in conf.matrices))
        rank = {c: i for i, c in enumerate(ctx.conditions(cond for _, cond in conf.matrices))}
        keys = sorted(conf.matrices, key=lambda k: (agents.index(k[0]), rank[k[1]]))
        for agent, cond in keys:
            mat = conf.matrices[(agent, cond)]
            names = [ctx.class_names.get(c, str(c)) for c in range(mat.shape[0])]
            df = pd.DataFrame(mat, columns=[*names, "no valid answer"])
            df.insert(0, "true", names)
            doc.extra_tables[f"confusion_{agent}_{cond}"] = df
    for result in results.values():  # a section's headline numbers, where its result offers them
        if hasattr(result, "summary_scalars"):
            doc.scalars.update(result.summary_scalars())
    prov = results.get("provenance")
    if prov is not None:
        doc.scalars["command"] = prov.command
    return doc, results


def _jsonable(v: object) -> object:
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def write_outputs(
    doc: Document, out_dir: Path, fmt: str, chromium: str | None = None
) -> tuple[Path, Path | None]:
    """Write the report (html or md), tables, figures, summary.json and, given a Chromium, report.pdf.

    Returns the report's path and the PDF's (None when none was printed; summary.json says why).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables_dir = out_dir / "tables"
    tables_dir.mkdir(exist_ok=True)
    for name, df in doc.tables.items():
        df.to_csv(tables_dir / f"{safe_name(name)}.csv", index=False)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for block in doc.figures:
        for ext in ("svg", "png"):
            (fig_dir / f"{safe_name(block.name)}.{ext}").write_bytes(figure_bytes(block.figure, ext))
    page = render_html(doc)
    if fmt == "md":
        path = out_dir / "report.md"
        path.write_text(render_md(doc), encoding="utf-8")
    else:
        path = out_dir / "report.html"
        path.write_text(page, encoding="utf-8")
    pdf: Path | None = None
    if chromium is not None:
        source = path if fmt != "md" else out_dir / "report.print.html"
        if fmt == "md":
            source.write_text(page, encoding="utf-8")
        try:
            pdf = print_pdf(source, out_dir / "report.pdf", chromium)
            doc.scalars["pdf"] = "report.pdf"
        except (PdfError, OSError, subprocess.TimeoutExpired) as exc:
            doc.scalars["pdf"] = f"PDF not written: {exc}"
        finally:
            if fmt == "md":
                source.unlink(missing_ok=True)
    else:
        doc.scalars.setdefault("pdf", "not asked for")
    summary = {
        "title": doc.title,
        **{k: _jsonable(v) for k, v in doc.scalars.items()},
        "tables": {
            name: [{k: _jsonable(v) for k, v in rec.items()} for rec in df.to_dict("records")]
            for name, df in doc.tables.items()
            if not name.startswith("confusion_")
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return path, pdf


def text_summary(doc: Document) -> str:
    """A few lines for stdout: the headline numbers."""
    s = doc.scalars
    lines = []
    if s.get("simulated"):
        lines.append("*** SIMULATED DATA: not evidence about human perception ***")
    lines.append(doc.title)
    lines.append(
        f"participants analysed: {s['n_participants_analysed']} of {s['n_participants_raw']} "
        f"(catch rule: {s['catch_rule']}; removed by it: {s['n_removed_by_catch_rule']}); "
        f"models: {', '.join(s['models']) or 'none'}"
    )
    for issue in s.get("issues", []):
        lines.append(f"input problem: {issue}")
    tables = doc.tables
    acc = tables.get("accuracy")
    if acc is not None:
        for _, r in acc.iterrows():
            lines.append(
                f"accuracy {r['agent']:>20} {r['condition']:>16}: {r['accuracy']:.3f} "
                f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] n={int(r['n_trials'])}"
            )
    pvm = tables.get("people_vs_models")
    if pvm is not None:
        for _, r in pvm.iterrows():
            lines.append(
                f"humans - {r['model']} ({r['condition']}): diff {r['diff_humans_minus_model']:+.3f} "
                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], p_holm {fmt(r['p_holm'], 'p_holm')} "
                f"({r['variance_sources']})"
            )
    ec = tables.get("error_consistency")
    if ec is not None:
        for _, r in ec.iterrows():
            lines.append(
                f"kappa {r['comparison']} {r['agent_a']}~{r['agent_b']} ({r['condition']}): "
                f"{fmt(r['kappa'], 'kappa')} "
                f"[{fmt(r['kappa_ci_low'], 'kappa')}, {fmt(r['kappa_ci_high'], 'kappa')}] "
                f"pairs {r['n_pairs_used']}, "
                f"at ceiling {r['n_pairs_ceiling']}, too few shared {r['n_pairs_too_few_shared']}"
            )
    return "\n".join(lines)
