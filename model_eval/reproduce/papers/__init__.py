"""Every number the seed papers give that this platform reproduces: one module per paper, each value
cited with its table, figure or section. Nothing else in model_eval writes a paper's number again.

Other packages read them here: :func:`human_rate` (Hosseini et al.'s human accuracy per condition, for
the simulated observer) and the tables of :mod:`.hosseini`, :mod:`.hosseini_short`, :mod:`.nguyen`.
"""

from model_eval.reproduce.papers.hosseini import HOSSEINI_HUMANS, NOT_GIVEN, human_rate

__all__ = ["HOSSEINI_HUMANS", "NOT_GIVEN", "human_rate"]
