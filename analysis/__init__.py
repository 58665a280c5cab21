"""analysis: compare people with networks on the same stimuli (`python -m analysis.compare`).

Modules: load (contract files -> one long table, humans and models alike), exclusions, metrics
(Wilson intervals, accuracy, error consistency, confusions), inference (GEE contrasts, McNemar,
Holm, power), psychometric (accuracy vs PSNR), fri (FRI pairs), plots, report, compare (the CLI).
"""
