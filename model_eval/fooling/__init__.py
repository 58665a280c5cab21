"""Fooling images (Nguyen et al. 2015): images a network labels with near-certain confidence.

- :func:`fool` runs the direct, CPPN and gradient-ascent searches (:class:`FoolConfig` each) on a
  checkpoint and optionally exports a stimulus set; it returns a :class:`FoolingRun`.
- :mod:`.search` holds the searches and the per-class archive, :mod:`.cppn` the CPPN genomes,
  :mod:`.report` the figures and the stimulus-set export.
"""

from model_eval.fooling.api import FoolingRun, fool
from model_eval.fooling.report import export_fooling_set, run_fooling
from model_eval.fooling.search import ENCODINGS, TARGET_CONFIDENCE, FoolConfig, FoolResult

__all__ = [
    "ENCODINGS",
    "TARGET_CONFIDENCE",
    "FoolConfig",
    "FoolResult",
    "FoolingRun",
    "export_fooling_set",
    "fool",
    "run_fooling",
]
