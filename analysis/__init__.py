"""analysis: compare people with networks on the same stimuli (`python -m analysis.compare`).

Statistics, each returning typed results: load (contract files -> one long table, humans and models
alike), exclusions (the study's own catch-trial rule, counted), metrics (Wilson intervals, accuracy,
confusions), consistency (error consistency with ceiling bookkeeping and bootstraps), replicates (models
as populations of training runs), inference (GEE contrasts, McNemar, Holm), rt (reaction times), power,
psychometric (accuracy vs PSNR), fri (FRI pairs), provenance.
Presentation: sections (the registry: compute -> typed result -> document blocks), document (the
blocks), plots and style (figures in one journal style), render (HTML, Markdown, PDF), report (walks
the registry, writes files), compare (the CLI).
"""
