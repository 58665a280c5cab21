"""Reproductions of the seed papers, each beside the paper's own numbers.

- :func:`reproduce_paper` reruns a paper's experiments ("hosseini", "aghdam") and writes the report;
  it returns a :class:`Reproduction`. :func:`reproduce_all` runs every paper into one
  :class:`Scorecard` (:mod:`.scorecard`: a row per paper number, ours beside it).
- :mod:`.papers` holds every number the papers give, one module per paper, each cited.
- :mod:`.hosseini` and :mod:`.aghdam` run each paper's experiments; :mod:`.common` has what they share
  (time budget, tables, the HTML report).
"""

from model_eval.reproduce.api import PAPERS, Reproduction, Scorecard, reproduce_all, reproduce_paper

__all__ = ["PAPERS", "Reproduction", "Scorecard", "reproduce_all", "reproduce_paper"]
