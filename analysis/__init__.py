"""analysis: compare people with networks on the same stimuli, and write the report.

From Python (the same function `python -m analysis.compare` runs)::

    import analysis

    result = analysis.write_report(
        "export/responses.csv",             # a responses CSV export, or a database URL (read-only)
        "sets/negatives",                   # the stimulus set directory
        "report",                           # where the report goes
        predictions=["preds_mvgg8.csv"],    # model_eval's predictions (+ preds_mvgg8.networks.json)
        options=analysis.CompareOptions(statistics=analysis.Options(n_boot=1000), pdf=False),
    )
    result.report                     # Path of report.html
    result.tables["accuracy"]         # every table of the report, as a DataFrame
    result.summary["n_participants_analysed"]

write_report raises AnalysisInputError (one readable sentence) for bad input, before it writes anything.

Where things live:

- ``analysis.inputs``: reading the contract files (load: stimulus set, responses, predictions -> one
  long table of trials; provenance: hashes, versions, each network's training from the predictions'
  sidecar X.networks.json).
- ``analysis.stats``: pure statistics returning typed results (metrics, exclusions, consistency,
  replicates, inference, rt, power, psychometric, fri_pairs, fooling).
- ``analysis.sections``: one module per report section (compute -> typed result -> document blocks),
  in the order SECTIONS lists them.
- ``analysis.render``: the document blocks, the figures' style and plots, and the HTML, Markdown and
  PDF renderers.
- ``analysis.report``: write_report (the product), build_report and write_outputs; ``analysis.cli``:
  the click command line (`python -m analysis compare`, `python -m analysis.compare`).
"""

from analysis.inputs.load import AnalysisInputError
from analysis.report import CompareOptions, ReportResult, write_report
from analysis.sections import Options
from analysis.stats.consistency import KappaOptions
from analysis.stats.exclusions import CatchRule

__all__ = [
    "AnalysisInputError",
    "CatchRule",
    "CompareOptions",
    "KappaOptions",
    "Options",
    "ReportResult",
    "write_report",
]
