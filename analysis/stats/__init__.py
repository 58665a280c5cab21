"""Pure statistics, each module returning typed results (frozen dataclasses or tidy DataFrames).

metrics (Wilson intervals, accuracy, confusions), exclusions (the study's own catch-trial rule,
counted), consistency (error consistency with ceiling bookkeeping and bootstraps), replicates (models
as populations of training runs), inference (GEE contrasts, McNemar, Holm), rt (reaction times), power,
psychometric (accuracy against PSNR), fri_pairs (FRI pairs), fooling (fooling images). Nothing here
draws or writes files.
"""
